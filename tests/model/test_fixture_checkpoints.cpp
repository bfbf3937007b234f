// Every reference checkpoint loads, with both config spellings, and reports
// what it is: architecture, storage dtype, quantization, sane tensors.
#include <cstring>

#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/model_loader.hpp"
#include "allm/safetensors.hpp"
#include "test_util.hpp"

namespace allm::test {
namespace {

namespace fs = std::filesystem;

struct Expect {
  const char* dir;
  const char* model_type;
  const char* dtype;
  const char* quant_mode;
  int bits, group_size;
};

const Expect kFixtures[] = {
    {"gemma2", "gemma2", "float32", "", 0, 0},
    {"gemma3", "gemma3_text", "float32", "", 0, 0},
    {"llama", "llama", "float32", "", 0, 0},
    {"llama-bf16", "llama", "bfloat16", "", 0, 0},
    {"llama-mlx-mixed", "llama", "bfloat16", "affine", 4, 64},
    {"llama-mlx4", "llama", "bfloat16", "affine", 4, 64},
    {"llama-mlx8", "llama", "bfloat16", "affine", 8, 64},
    {"mistral", "mistral", "float32", "", 0, 0},
    {"mixtral", "mixtral", "float32", "", 0, 0},
    {"phi3", "phi3", "float32", "", 0, 0},
    {"qwen2", "qwen2", "float32", "", 0, 0},
    {"qwen3", "qwen3", "float32", "", 0, 0},
    {"qwen3-bf16", "qwen3", "bfloat16", "", 0, 0},
    {"qwen3-mlx4", "qwen3", "bfloat16", "affine", 4, 64},
    {"qwen3-mlx8", "qwen3", "bfloat16", "affine", 8, 64},
    {"qwen3_moe", "qwen3_moe", "float32", "", 0, 0},
    {"granite", "granite", "float32", "", 0, 0},
    {"smollm3", "smollm3", "float32", "", 0, 0},
    {"olmo2", "olmo2", "float32", "", 0, 0},
    {"gpt_oss", "gpt_oss", "float32", "", 0, 0},
};

class FixtureCheckpoint : public ::testing::TestWithParam<Expect> {};

// Tensors of the file as stored, minus the MLX scales/biases that merge into their weight.
size_t expected_tensor_count(const fs::path& file) {
  auto st = SafetensorsFile::open(file);
  size_t n = 0;
  for (const auto& t : st.tensors())
    if (!t.name.ends_with(".scales") && !t.name.ends_with(".biases")) ++n;
  return n;
}

void check_checkpoint(const Checkpoint& ck, const Expect& e, const fs::path& dir) {
  EXPECT_EQ(ck.model_type, e.model_type);
  EXPECT_EQ(ck.config["model_type"], e.model_type);
  EXPECT_EQ(ck.dtype, e.dtype);
  EXPECT_EQ(ck.quantization.mode, e.quant_mode);
  EXPECT_EQ(ck.quantization.bits, e.bits);
  EXPECT_EQ(ck.quantization.group_size, e.group_size);
  ASSERT_TRUE(ck.weights);

  const auto names = ck.weights->names();
  EXPECT_EQ(names.size(), expected_tensor_count(dir / "model.safetensors"));
  uint64_t bytes = 0;
  for (const auto& name : names) {
    EXPECT_FALSE(name.ends_with(".scales") || name.ends_with(".biases")) << name;
    const Tensor& t = ck.weights->get(name);
    EXPECT_EQ(t.name, name);
    ASSERT_TRUE(t.valid()) << name;
    ASSERT_FALSE(t.shape.empty()) << name;
    for (auto d : t.shape) EXPECT_GT(d, 0) << name;
    if (t.dtype == DType::MLX_AFFINE) {
      EXPECT_EQ(static_cast<int64_t>(t.nbytes) * 8, t.numel() * t.bits) << name;
      EXPECT_EQ(t.cols() % t.group_size, 0) << name;
      EXPECT_NE(t.scales, nullptr);
      EXPECT_NE(t.biases, nullptr);
      EXPECT_EQ(t.scale_dtype, DType::BF16);
      bytes += t.nbytes + 2 * 2 * static_cast<uint64_t>(t.numel() / t.group_size);
    } else {
      EXPECT_EQ(static_cast<int64_t>(t.nbytes), t.numel() * static_cast<int64_t>(dtype_size(t.dtype))) << name;
      bytes += t.nbytes;
    }
  }
  EXPECT_EQ(ck.weights->total_bytes(), bytes);

  const int64_t hidden = ck.config["hidden_size"].get<int64_t>();
  const int64_t vocab = ck.config["vocab_size"].get<int64_t>();
  const Tensor& embed = ck.weights->get("model.embed_tokens.weight");
  EXPECT_EQ(embed.shape, (std::vector<int64_t>{vocab, hidden}));
  EXPECT_EQ(ck.weights->get("model.norm.weight").shape, (std::vector<int64_t>{hidden}));
  if (!ck.config.value("tie_word_embeddings", false))
    EXPECT_EQ(ck.weights->get("lm_head.weight").shape, (std::vector<int64_t>{vocab, hidden}));
  else
    EXPECT_EQ(ck.weights->find("lm_head.weight"), nullptr);

  // Sampling defaults, tokenizer files, chat template.
  EXPECT_EQ(ck.generation.eos_token_ids, (std::vector<int32_t>{2, 0}));
  EXPECT_DOUBLE_EQ(ck.generation.temperature.value_or(-1), 0.7);
  EXPECT_DOUBLE_EQ(ck.generation.top_p.value_or(-1), 0.8);
  EXPECT_EQ(ck.generation.top_k.value_or(-1), 20);
  EXPECT_DOUBLE_EQ(ck.generation.repetition_penalty.value_or(-1), 1.05);
  EXPECT_FALSE(ck.generation.min_p.has_value());
  EXPECT_EQ(ck.generation.do_sample, std::optional<bool>(true));
  EXPECT_FALSE(ck.generation.bos_token_id.has_value());
  ASSERT_TRUE(ck.tokenizer_json.has_value());
  EXPECT_EQ(*ck.tokenizer_json, dir / "tokenizer.json");
  ASSERT_TRUE(ck.tokenizer_config_json.has_value());
  ASSERT_TRUE(ck.chat_template.has_value());
  EXPECT_NE(ck.chat_template->find("<|im_start|>"), std::string::npos);
  EXPECT_FALSE(ck.config.contains("rope_parameters"));
  EXPECT_TRUE(ck.config.contains("rope_theta"));
}

TEST_P(FixtureCheckpoint, LoadsWithConfigJson) {
  const auto& e = GetParam();
  const fs::path dir = fixture(e.dir);
  Checkpoint ck = load_checkpoint(dir);
  EXPECT_EQ(ck.source, dir);
  check_checkpoint(ck, e, dir);
}

TEST_P(FixtureCheckpoint, LoadsWithConfigV5AndNormalisesToTheSameConfig) {
  const auto& e = GetParam();
  TempDir tmp;
  const fs::path dir = tmp / e.dir;
  copy_fixture(e.dir, dir);
  fs::copy_file(dir / "config.v5.json", dir / "config.json", fs::copy_options::overwrite_existing);
  Checkpoint v5 = load_checkpoint(dir);
  check_checkpoint(v5, e, dir);
  Checkpoint v4 = load_checkpoint(fixture(e.dir));
  EXPECT_EQ(v5.config, v4.config) << "v4: " << v4.config.dump() << "\nv5: " << v5.config.dump();
  EXPECT_EQ(v5.weights->names(), v4.weights->names());
}

TEST_P(FixtureCheckpoint, NormalisedConfigsOfBothSpellingsAreEqual) {
  const auto& e = GetParam();
  EXPECT_EQ(read_config_file(fixture(e.dir) / "config.json"), read_config_file(fixture(e.dir) / "config.v5.json"));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureCheckpoint, ::testing::ValuesIn(kFixtures),
                         [](const ::testing::TestParamInfo<Expect>& info) {
                           std::string n = info.param.dir;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(FixtureCheckpointDetails, MixedMlxRecipeAppliesPerModuleOverrides) {
  Checkpoint ck = load_checkpoint(fixture("llama-mlx-mixed"));
  const auto& w = *ck.weights;
  for (int layer : {0, 1}) {
    const Tensor& down = w.get("model.layers." + std::to_string(layer) + ".mlp.down_proj.weight");
    EXPECT_EQ(down.dtype, DType::MLX_AFFINE);
    EXPECT_EQ(down.bits, 8);
    EXPECT_EQ(down.group_size, 32);
    EXPECT_EQ(down.shape, (std::vector<int64_t>{64, 128}));
  }
  const Tensor& head = w.get("lm_head.weight");
  EXPECT_EQ(head.bits, 8);
  EXPECT_EQ(head.group_size, 64);
  const Tensor& o1 = w.get("model.layers.1.self_attn.o_proj.weight");  // `false`: left in bfloat16
  EXPECT_EQ(o1.dtype, DType::BF16);
  EXPECT_EQ(o1.shape, (std::vector<int64_t>{64, 64}));
  const Tensor& o0 = w.get("model.layers.0.self_attn.o_proj.weight");
  EXPECT_EQ(o0.dtype, DType::MLX_AFFINE);
  EXPECT_EQ(o0.bits, 4);
  EXPECT_EQ(o0.group_size, 64);
  const Tensor& embed = w.get("model.embed_tokens.weight");
  EXPECT_EQ(embed.bits, 4);
  EXPECT_EQ(embed.shape, (std::vector<int64_t>{512, 64}));
}

TEST(FixtureCheckpointDetails, QuantizedTensorViewsPointIntoTheFileWithoutCopying) {
  Checkpoint ck = load_checkpoint(fixture("qwen3-mlx4"));
  auto st = SafetensorsFile::open(fixture("qwen3-mlx4") / "model.safetensors");
  const Tensor& q = ck.weights->get("model.layers.0.self_attn.q_proj.weight");
  const Tensor& codes = st.get("model.layers.0.self_attn.q_proj.weight");
  const Tensor& scales = st.get("model.layers.0.self_attn.q_proj.scales");
  const Tensor& biases = st.get("model.layers.0.self_attn.q_proj.biases");
  EXPECT_EQ(q.shape, (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(q.nbytes, codes.nbytes);
  // Same bytes as the file (two separate mappings of it).
  EXPECT_EQ(0, std::memcmp(q.data, codes.data, codes.nbytes));
  EXPECT_EQ(0, std::memcmp(q.scales, scales.data, scales.nbytes));
  EXPECT_EQ(0, std::memcmp(q.biases, biases.data, biases.nbytes));
}

TEST(FixtureCheckpointDetails, WeightsStayValidAfterTheCheckpointStructIsGone) {
  std::shared_ptr<WeightStore> weights;
  std::vector<float> expect(4);
  {
    Checkpoint ck = load_checkpoint(fixture("qwen3"));
    weights = ck.weights;
    std::memcpy(expect.data(), weights->get("model.norm.weight").data, 16);
  }
  std::vector<float> got(4);
  std::memcpy(got.data(), weights->get("model.norm.weight").data, 16);
  EXPECT_EQ(got, expect);
}

TEST(FixtureCheckpointDetails, RopeAndSpecialFieldsAreNormalised) {
  Checkpoint llama = load_checkpoint(fixture("llama"));
  EXPECT_DOUBLE_EQ(llama.config["rope_theta"].get<double>(), 500000.0);
  EXPECT_EQ(llama.config["rope_scaling"]["rope_type"], "llama3");
  EXPECT_DOUBLE_EQ(llama.config["rope_scaling"]["factor"].get<double>(), 8.0);
  Checkpoint gemma3 = load_checkpoint(fixture("gemma3"));
  EXPECT_DOUBLE_EQ(gemma3.config["rope_theta"].get<double>(), 1000000.0);
  EXPECT_DOUBLE_EQ(gemma3.config["rope_local_base_freq"].get<double>(), 10000.0);
  EXPECT_TRUE(gemma3.config["rope_scaling"].is_null());
  Checkpoint phi3 = load_checkpoint(fixture("phi3"));
  EXPECT_DOUBLE_EQ(phi3.config["partial_rotary_factor"].get<double>(), 0.5);
  EXPECT_EQ(phi3.config["eos_token_id"], nlohmann::json::array({2}));
  EXPECT_EQ(phi3.config["torch_dtype"], "float32");
}

TEST(FixtureCheckpointDetails, SingleSafetensorsFileUsesItsDirectoryConfig) {
  Checkpoint ck = load_checkpoint(fixture("qwen2") / "model.safetensors");
  EXPECT_EQ(ck.model_type, "qwen2");
  EXPECT_NE(ck.weights->find("model.layers.0.self_attn.q_proj.bias"), nullptr);
}

}  // namespace
}  // namespace allm::test
