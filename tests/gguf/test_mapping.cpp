// GGUF -> Checkpoint: the HF config llama.cpp's metadata implies, HF tensor
// names (per-expert views, gemma norms), and the vocabulary converted to a
// tokenizer.json that the tokenizer plugin encodes like the original.
#include <gtest/gtest.h>

#include <fstream>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/model_loader.hpp"
#include "gguf_test_util.hpp"
#include "hf_factory.hpp"

namespace allm::gguf::test {
namespace {

TEST(GgufMapping, Qwen3Config) {
  auto ck = allm::load_checkpoint(data("qwen3-q8_0.gguf"));
  EXPECT_EQ(ck.model_type, "qwen3");
  const auto& c = ck.config;
  EXPECT_EQ(c["hidden_size"], 64);
  EXPECT_EQ(c["num_hidden_layers"], 2);
  EXPECT_EQ(c["num_attention_heads"], 4);
  EXPECT_EQ(c["num_key_value_heads"], 2);
  EXPECT_EQ(c["head_dim"], 32);
  EXPECT_EQ(c["intermediate_size"], 128);
  EXPECT_EQ(c["vocab_size"], 512);
  EXPECT_EQ(c["tie_word_embeddings"], true);
  EXPECT_EQ(c["rope_interleaved"], false);
  EXPECT_DOUBLE_EQ(c["rope_theta"].get<double>(), 1e6);
  EXPECT_NEAR(c["rms_norm_eps"].get<double>(), 1e-6, 1e-12);
  EXPECT_EQ(ck.quantization.mode, "gguf");
  EXPECT_EQ(ck.generation.eos_token_ids, std::vector<int32_t>{2});
  EXPECT_NEAR(*ck.generation.temperature, 0.7, 1e-6);
  EXPECT_EQ(*ck.generation.top_k, 20);
  ASSERT_TRUE(ck.chat_template);
  EXPECT_NE(ck.chat_template->find("<|im_start|>"), std::string::npos);
  auto& q = ck.weights->get("model.layers.1.self_attn.q_proj.weight");
  EXPECT_EQ(q.dtype, DType::Q8_0);
  EXPECT_EQ(q.shape, (std::vector<int64_t>{128, 64}));
  EXPECT_NE(ck.weights->find("model.layers.0.self_attn.k_norm.weight"), nullptr);
  EXPECT_EQ(ck.weights->find("lm_head.weight"), nullptr);
}

TEST(GgufMapping, LlamaPermutedRopeAndFrequencyFactors) {
  auto ck = allm::load_checkpoint(data("llama-f32.gguf"));
  EXPECT_EQ(ck.model_type, "llama");
  EXPECT_EQ(ck.config["rope_interleaved"], true);
  ASSERT_TRUE(ck.config.contains("rope_freq_factors"));
  const auto& ff = ck.config["rope_freq_factors"];
  ASSERT_EQ(ff.size(), 8u);  // head_dim 16 / 2
  EXPECT_FLOAT_EQ(ff[0].get<float>(), 1.0f);   // highest frequency unchanged
  EXPECT_FLOAT_EQ(ff[7].get<float>(), 8.0f);   // lowest scaled by the llama3 factor
  EXPECT_EQ(ck.weights->find("rope_freqs.weight"), nullptr);
  EXPECT_NE(ck.weights->find("lm_head.weight"), nullptr);
  EXPECT_EQ(ck.config["tie_word_embeddings"], false);
}

TEST(GgufMapping, MistralFileIsPlainLlama) {
  auto ck = allm::load_checkpoint(data("mistral-q8_0.gguf"));
  EXPECT_EQ(ck.model_type, "llama");
  EXPECT_FALSE(ck.config.contains("sliding_window"));
}

TEST(GgufMapping, Gemma3LayerPatternAndNorms) {
  auto ck = allm::load_checkpoint(data("gemma3-f32.gguf"));
  EXPECT_EQ(ck.model_type, "gemma3_text");
  EXPECT_EQ(ck.config["layer_types"], nlohmann::json({"sliding_attention", "sliding_attention"}));
  EXPECT_EQ(ck.config["sliding_window"], 6);
  EXPECT_DOUBLE_EQ(ck.config["rope_local_base_freq"].get<double>(), 10000.0);
  EXPECT_EQ(ck.config["query_pre_attn_scalar"], 32);
  // llama.cpp stored 1 + w; the checkpoint holds w again.
  auto f = File::open(data("gemma3-f32.gguf"));
  auto* stored = reinterpret_cast<const float*>(f->tensor_data(*f->find_tensor("blk.0.post_ffw_norm.weight")));
  auto& w = ck.weights->get("model.layers.0.post_feedforward_layernorm.weight");
  ASSERT_EQ(w.dtype, DType::F32);
  for (int i = 0; i < 64; ++i) EXPECT_FLOAT_EQ(static_cast<const float*>(w.data)[i], stored[i] - 1.0f);
  EXPECT_NE(ck.weights->find("model.layers.1.pre_feedforward_layernorm.weight"), nullptr);
  EXPECT_NE(ck.weights->find("model.layers.1.self_attn.q_norm.weight"), nullptr);
}

TEST(GgufMapping, ExpertsBecomePerExpertViews) {
  auto mix = allm::load_checkpoint(data("mixtral-q8_0.gguf"));
  EXPECT_EQ(mix.model_type, "mixtral");
  EXPECT_EQ(mix.config["num_local_experts"], 4);
  EXPECT_EQ(mix.config["num_experts_per_tok"], 2);
  auto& w1_0 = mix.weights->get("model.layers.0.block_sparse_moe.experts.0.w1.weight");
  auto& w1_3 = mix.weights->get("model.layers.0.block_sparse_moe.experts.3.w1.weight");
  EXPECT_EQ(w1_0.shape, (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(static_cast<const uint8_t*>(w1_3.data) - static_cast<const uint8_t*>(w1_0.data), 3 * 128 * 2 * 34);
  EXPECT_EQ(mix.weights->get("model.layers.1.block_sparse_moe.experts.2.w2.weight").shape,
            (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(mix.weights->get("model.layers.0.block_sparse_moe.gate.weight").shape, (std::vector<int64_t>{4, 64}));

  auto moe = allm::load_checkpoint(data("qwen3_moe-f32.gguf"));
  EXPECT_EQ(moe.model_type, "qwen3_moe");
  EXPECT_EQ(moe.config["num_experts"], 8);
  EXPECT_EQ(moe.config["moe_intermediate_size"], 32);
  EXPECT_EQ(moe.config["norm_topk_prob"], true);
  EXPECT_EQ(moe.weights->get("model.layers.1.mlp.experts.7.down_proj.weight").shape, (std::vector<int64_t>{64, 32}));
}

TEST(GgufMapping, TensorNames) {
  EXPECT_EQ(hf_tensor_name("llama", "blk.12.attn_output.weight"), "model.layers.12.self_attn.o_proj.weight");
  EXPECT_EQ(hf_tensor_name("qwen2", "blk.0.attn_q.bias"), "model.layers.0.self_attn.q_proj.bias");
  EXPECT_EQ(hf_tensor_name("llama", "blk.3.ffn_norm.weight"), "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(hf_tensor_name("gemma3_text", "blk.3.ffn_norm.weight"), "model.layers.3.pre_feedforward_layernorm.weight");
  EXPECT_EQ(hf_tensor_name("qwen3_moe", "blk.0.ffn_up_exps.weight"), "model.layers.0.mlp.experts.{}.up_proj.weight");
  EXPECT_EQ(hf_tensor_name("llama", "blk.x.attn_q.weight"), std::nullopt);
  EXPECT_EQ(hf_tensor_name("llama", "something.else"), std::nullopt);
}

TEST(GgufMapping, Gpt2VocabularyEncodesLikeTheOriginal) {
  auto f = File::open(data("qwen3-f32.gguf"));
  hf::HfTokenizerFactory factory;
  auto from_gguf = factory.load_json(tokenizer_json_from_gguf(*f), "qwen3-f32.gguf");
  auto original = factory.load(std::filesystem::path(ALLM_TEST_DATA_DIR) / "models" / "qwen3" / "tokenizer.json");
  EXPECT_EQ(from_gguf->vocab_size(), original->vocab_size());
  for (std::string text : {"Hello world, this is a test.", "  two  spaces\nand lines\n\n", "<|im_start|>user\nhi<|im_end|>",
                           "numbers 12345 and symbols #$%^&*", "the then their there"}) {
    EXPECT_EQ(from_gguf->encode(text, true), original->encode(text, true)) << text;
    auto ids = from_gguf->encode(text, false);
    EXPECT_EQ(from_gguf->decode(ids, false), text);
  }
  EXPECT_TRUE(from_gguf->is_special(2));
  EXPECT_FALSE(from_gguf->adds_bos());
}

// A SentencePiece ('llama') vocabulary: merges ranked by piece score, byte fallback.
TEST(GgufMapping, SentencePieceVocabulary) {
  Writer w;
  nlohmann::json tokens = {"<unk>", "<s>", "</s>"}, types = {2, 3, 3}, scores = {0, 0, 0};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.push_back(buf);
    types.push_back(6);
    scores.push_back(0);
  }
  for (auto [piece, score] : std::vector<std::pair<std::string, float>>{
           {"\xE2\x96\x81", -1}, {"a", -2}, {"b", -3}, {"\xE2\x96\x81" "a", -0.5f}, {"ab", -0.6f},
           {"\xE2\x96\x81" "ab", -0.7f}}) {
    tokens.push_back(piece);
    types.push_back(1);
    scores.push_back(score);
  }
  w.set("general.architecture", Value::string("llama"));
  w.set("tokenizer.ggml.model", Value::string("llama"));
  w.set("tokenizer.ggml.tokens", Value::array_of(ValueType::STRING, tokens));
  w.set("tokenizer.ggml.token_type", Value::array_of(ValueType::I32, types));
  w.set("tokenizer.ggml.scores", Value::array_of(ValueType::F32, scores));
  w.set("tokenizer.ggml.bos_token_id", Value::u32(1));
  w.set("tokenizer.ggml.eos_token_id", Value::u32(2));
  w.set("tokenizer.ggml.unknown_token_id", Value::u32(0));
  auto path = std::filesystem::temp_directory_path() / ("allm-gguf-spm-" + std::to_string(::getpid()) + ".gguf");
  w.write(path);
  auto f = File::open(path);
  std::filesystem::remove(path);
  hf::HfTokenizerFactory factory;
  auto tok = factory.load_json(tokenizer_json_from_gguf(*f), "spm.gguf");
  const int32_t base = 259;  // first normal piece
  EXPECT_TRUE(tok->adds_bos());
  EXPECT_EQ(tok->encode("ab", true), (std::vector<int32_t>{1, base + 5}));
  EXPECT_EQ(tok->encode("ba", false), (std::vector<int32_t>{base + 0, base + 2, base + 1}));
  // 'é' is not a piece: its UTF-8 bytes come out as byte tokens.
  EXPECT_EQ(tok->encode("a\xC3\xA9", false), (std::vector<int32_t>{base + 3, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok->decode(tok->encode("ab ba a\xC3\xA9", true), true), "ab ba a\xC3\xA9");
}

TEST(GgufMapping, UnsupportedArchitectureIsNamed) {
  Writer w;
  w.set("general.architecture", Value::string("rwkv7"));
  auto path = std::filesystem::temp_directory_path() / ("allm-gguf-rwkv-" + std::to_string(::getpid()) + ".gguf");
  w.write(path);
  try {
    allm::load_checkpoint(path);
    FAIL();
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("'rwkv7'"), std::string::npos);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace allm::gguf::test
