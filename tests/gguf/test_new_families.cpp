// The round-2 families as GGUF, the way llama.cpp's converter names them
// (architectures granite, smollm3, olmo2, gpt-oss; gpt-oss's fused experts
// split per expert, biases stacked, MXFP4 experts with llama-quantize's
// MXFP4_MOE recipe): safetensors -> GGUF -> the same logits.
//
// Oracles: transformers' logits (reference.safetensors) where llama.cpp's
// reading of the file means the same model (granite, olmo2); where llama.cpp
// fixes something the config chose (SmolLM3's NoPE step, YaRN's rounded
// correction range), the checkpoint run with that setting, and a config
// llama.cpp would run differently refused.
#include <gtest/gtest.h>

#include <cmath>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/model_loader.hpp"
#include "allm/safetensors.hpp"
#include "gguf_test_util.hpp"

namespace allm::gguf::test {
namespace {

std::filesystem::path family_model_dir(const std::string& name) {
  return std::filesystem::path(ALLM_TEST_DATA_DIR) / "models" / name;
}

std::filesystem::path temp_gguf(const std::string& tag) {
  return std::filesystem::temp_directory_path() / ("allm-family-" + std::to_string(::getpid()) + "-" + tag + ".gguf");
}

std::filesystem::path convert(const Checkpoint& ck, FileType type, const std::string& tag) {
  auto out = temp_gguf(tag);
  ConvertOptions opt;
  opt.type = type;
  write_checkpoint(ck, out, opt);
  return out;
}

std::vector<int32_t> prompt(const std::string& model) {
  auto ref = SafetensorsFile::open(family_model_dir(model) / "reference.safetensors");
  return values<int32_t>(ref.get("input_ids"));
}

std::vector<float> logits_of(const Checkpoint& ck, const std::vector<int32_t>& ids) {
  auto model = make_model(ck);
  std::vector<float> out(ids.size() * size_t(model->info().vocab_size));
  model->forward(ids, *model->make_cache(), LogitsMode::all, out.data());
  return out;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

class FamilyRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(FamilyRoundTrip, F32FileGivesTransformersLogits) {
  const std::string name = GetParam();
  auto path = convert(allm::load_checkpoint(family_model_dir(name)), FileType::F32, name);
  auto ck = allm::load_checkpoint(path);
  EXPECT_EQ(ck.model_type, name);
  auto ref = SafetensorsFile::open(family_model_dir(name) / "reference.safetensors");
  const double d = max_diff(logits_of(ck, prompt(name)), values<float>(ref.get("logits")));
  std::printf("[ %s -> gguf f32 ] max |logit diff| vs transformers = %.3g\n", name.c_str(), d);
  EXPECT_LE(d, 1e-3);
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyRoundTrip, ::testing::Values("granite", "olmo2"),
                         [](const auto& info) { return info.param; });

TEST(GgufFamilies, MetadataAsLlamaCppNamesIt) {
  auto path = convert(allm::load_checkpoint(family_model_dir("granite")), FileType::F32, "granite-meta");
  auto f = File::open(path);
  EXPECT_EQ(*f->get_string("general.architecture"), "granite");
  EXPECT_FLOAT_EQ(*f->get_float("granite.embedding_scale"), 12.0f);
  EXPECT_FLOAT_EQ(*f->get_float("granite.residual_scale"), 0.22f);
  EXPECT_FLOAT_EQ(*f->get_float("granite.attention.scale"), 0.0078125f);
  EXPECT_FLOAT_EQ(*f->get_float("granite.logit_scale"), 8.0f);
  EXPECT_EQ(f->find_tensor("output.weight"), nullptr);  // tied
  std::filesystem::remove(path);

  path = convert(allm::load_checkpoint(family_model_dir("olmo2")), FileType::F32, "olmo2-meta");
  f = File::open(path);
  EXPECT_EQ(*f->get_string("general.architecture"), "olmo2");
  for (const char* t : {"blk.0.post_attention_norm.weight", "blk.0.post_ffw_norm.weight", "blk.1.attn_q_norm.weight",
                        "blk.1.attn_k_norm.weight", "output.weight"})
    EXPECT_NE(f->find_tensor(t), nullptr) << t;
  EXPECT_EQ(f->find_tensor("blk.0.attn_q_norm.weight")->ne, (std::vector<uint64_t>{64}));  // whole width
  EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight"), nullptr);
  std::filesystem::remove(path);
}

// llama.cpp runs SmolLM3 without rope on every 4th layer, whatever
// no_rope_layers says: the fixture (NoPE on layer 1) is refused, the same
// weights with llama.cpp's pattern round-trip.
TEST(GgufFamilies, SmolLM3FollowsLlamaCppsNoPEStep) {
  auto ck = allm::load_checkpoint(family_model_dir("smollm3"));
  try {
    convert(ck, FileType::F32, "smollm3-refused");
    FAIL() << "written";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("no_rope_layers[1]"), std::string::npos) << e.what();
  }
  ck.config["no_rope_layers"] = {1, 1};
  const auto expected = logits_of(ck, prompt("smollm3"));
  auto path = convert(ck, FileType::F32, "smollm3");
  auto back = allm::load_checkpoint(path);
  EXPECT_EQ(back.model_type, "smollm3");
  EXPECT_EQ(*File::open(path)->get_string("general.architecture"), "smollm3");
  const double d = max_diff(logits_of(back, prompt("smollm3")), expected);
  std::printf("[ smollm3 -> gguf f32 ] max |logit diff| = %.3g\n", d);
  EXPECT_LE(d, 1e-4);
  std::filesystem::remove(path);
}

// gpt-oss: tensor names and layouts of llama.cpp's converter, YaRN keys; the
// file runs as the checkpoint does with YaRN's correction range rounded
// outwards (llama.cpp has no `truncate` key and always rounds).
TEST(GgufFamilies, GptOssExpertsSplitAndRoundTrip) {
  auto ck = allm::load_checkpoint(family_model_dir("gpt_oss"));
  auto path = convert(ck, FileType::F32, "gpt-oss");
  auto f = File::open(path);
  EXPECT_EQ(*f->get_string("general.architecture"), "gpt-oss");
  EXPECT_EQ(*f->get_string("gpt-oss.rope.scaling.type"), "yarn");
  EXPECT_FLOAT_EQ(*f->get_float("gpt-oss.rope.scaling.factor"), 8.0f);
  EXPECT_EQ(*f->get_int("gpt-oss.rope.scaling.original_context_length"), 32);
  EXPECT_EQ(*f->get_int("gpt-oss.attention.sliding_window"), 6);
  EXPECT_EQ(*f->get_int("gpt-oss.expert_feed_forward_length"), 128);
  EXPECT_EQ(*f->get_int("gpt-oss.expert_count"), 4);
  // ggml order: ne[0] is the contiguous dimension.
  const std::pair<const char*, std::vector<uint64_t>> shapes[] = {
      {"blk.0.ffn_gate_exps.weight", {64, 128, 4}}, {"blk.0.ffn_up_exps.weight", {64, 128, 4}},
      {"blk.0.ffn_down_exps.weight", {128, 64, 4}}, {"blk.0.ffn_gate_exps.bias", {128, 4}},
      {"blk.0.ffn_up_exps.bias", {128, 4}},         {"blk.0.ffn_down_exps.bias", {64, 4}},
      {"blk.0.ffn_gate_inp.weight", {64, 4}},       {"blk.0.ffn_gate_inp.bias", {4}},
      {"blk.0.attn_sinks.weight", {4}},             {"blk.0.post_attention_norm.weight", {64}},
      {"blk.0.attn_output.bias", {64}},             {"blk.1.attn_q.bias", {64}}};
  for (const auto& [name, ne] : shapes) {
    auto* t = f->find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->ne, ne) << name;
  }
  // Gate is the even columns of gate_up_proj, up the odd ones, transposed.
  auto st = SafetensorsFile::open(family_model_dir("gpt_oss") / "model.safetensors");
  const auto fused = values<float>(st.get("model.layers.1.mlp.experts.gate_up_proj"));  // [4, 64, 256]
  const auto* gate = reinterpret_cast<const float*>(f->tensor_data(*f->find_tensor("blk.1.ffn_gate_exps.weight")));
  const auto* up = reinterpret_cast<const float*>(f->tensor_data(*f->find_tensor("blk.1.ffn_up_exps.weight")));
  for (int e : {0, 3})
    for (int i : {0, 5, 127})
      for (int h : {0, 17, 63}) {
        EXPECT_EQ(gate[(e * 128 + i) * 64 + h], fused[size_t((e * 64 + h) * 256 + 2 * i)]);
        EXPECT_EQ(up[(e * 128 + i) * 64 + h], fused[size_t((e * 64 + h) * 256 + 2 * i + 1)]);
      }

  auto back = allm::load_checkpoint(path);
  EXPECT_EQ(back.model_type, "gpt_oss");
  ck.config["rope_scaling"]["truncate"] = true;
  const auto expected = logits_of(ck, prompt("gpt_oss"));
  const auto f32 = logits_of(back, prompt("gpt_oss"));
  const double d = max_diff(f32, expected);
  std::printf("[ gpt_oss -> gguf f32 ] max |logit diff| = %.3g\n", d);
  EXPECT_LE(d, 1e-4);
  std::filesystem::remove(path);

  // MXFP4_MOE: experts in MXFP4, other matrices Q8_0, vectors F32; the
  // experts read back as exactly the MXFP4 rounding of the original rows.
  path = convert(allm::load_checkpoint(family_model_dir("gpt_oss")), FileType::MXFP4_MOE, "gpt-oss-mxfp4");
  f = File::open(path);
  EXPECT_EQ(f->find_tensor("blk.0.ffn_down_exps.weight")->dtype, DType::MXFP4);
  EXPECT_EQ(f->find_tensor("blk.0.ffn_gate_exps.weight")->dtype, DType::MXFP4);
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->dtype, DType::Q8_0);
  EXPECT_EQ(f->find_tensor("output.weight")->dtype, DType::Q8_0);
  EXPECT_EQ(f->find_tensor("blk.0.ffn_gate_exps.bias")->dtype, DType::F32);
  EXPECT_EQ(f->find_tensor("blk.0.ffn_gate_inp.weight")->dtype, DType::F32);
  const auto* blocks = f->tensor_data(*f->find_tensor("blk.1.ffn_gate_exps.weight"));
  std::vector<float> row(64), want(64);
  std::vector<uint8_t> requantized(row_bytes(DType::MXFP4, 64));
  for (int r : {0, 130, 511}) {  // expert r / 128, row r % 128
    dequantize_row(DType::MXFP4, blocks + size_t(r) * row_bytes(DType::MXFP4, 64), row.data(), 64);
    for (int h = 0; h < 64; ++h) want[size_t(h)] = fused[size_t(((r / 128) * 64 + h) * 256 + 2 * (r % 128))];
    quantize_row(DType::MXFP4, want.data(), requantized.data(), 64);
    dequantize_row(DType::MXFP4, requantized.data(), want.data(), 64);
    EXPECT_EQ(row, want) << "row " << r;
  }
  // The file runs as its exact dequantization to F32 does (the integer
  // kernels quantize activations to 8 bits: the same ~0.5 noise as
  // llama.cpp's Q8_0 files show on these random models).
  auto q = allm::load_checkpoint(path);
  const auto quantized = logits_of(q, prompt("gpt_oss"));
  auto dequantized_path = convert(q, FileType::F32, "gpt-oss-mxfp4-f32");
  EXPECT_EQ(File::open(dequantized_path)->find_tensor("blk.0.ffn_gate_exps.weight")->dtype, DType::F32);
  const auto exact = logits_of(allm::load_checkpoint(dequantized_path), prompt("gpt_oss"));
  double sq = 0;
  for (size_t i = 0; i < exact.size(); ++i) sq += (quantized[i] - exact[i]) * double(quantized[i] - exact[i]);
  const double dq = max_diff(quantized, exact), rms = std::sqrt(sq / double(exact.size()));
  std::printf("[ gpt_oss -> gguf mxfp4_moe ] max |logit diff| vs its F32 dequantization = %.3g, rms %.3g; "
              "vs the F32 file %.3g\n", dq, rms, max_diff(quantized, f32));
  EXPECT_LE(dq, 0.75);
  EXPECT_LE(rms, 0.2);
  EXPECT_GT(max_diff(quantized, f32), 0.0);  // the experts really are 4-bit
  std::filesystem::remove(path);
  std::filesystem::remove(dequantized_path);
}

TEST(GgufFamilies, GgufConfigsFollowLlamaCpp) {
  // What the reader makes of each file's metadata (no original config.json).
  auto check = [](const std::string& model, auto&& expect) {
    auto path = convert(allm::load_checkpoint(family_model_dir(model)), FileType::F32, model + "-cfg");
    expect(allm::load_checkpoint(path).config);
    std::filesystem::remove(path);
  };
  check("granite", [](const nlohmann::json& c) {
    EXPECT_EQ(c["model_type"], "granite");
    EXPECT_FLOAT_EQ(c["embedding_multiplier"].get<float>(), 12.0f);
    EXPECT_FLOAT_EQ(c["logits_scaling"].get<float>(), 8.0f);
    EXPECT_EQ(c["rope_interleaved"], true);
  });
  check("olmo2", [](const nlohmann::json& c) {
    EXPECT_EQ(c["model_type"], "olmo2");
    EXPECT_EQ(c["rope_interleaved"], false);
  });
  check("gpt_oss", [](const nlohmann::json& c) {
    EXPECT_EQ(c["model_type"], "gpt_oss");
    EXPECT_EQ(c["layer_types"], (nlohmann::json{"sliding_attention", "full_attention"}));
    EXPECT_EQ(c["sliding_window"], 6);
    EXPECT_EQ(c["num_local_experts"], 4);
    EXPECT_EQ(c["rope_scaling"]["rope_type"], "yarn");
    EXPECT_EQ(c["rope_scaling"]["truncate"], true);
    EXPECT_EQ(c["rope_scaling"]["original_max_position_embeddings"], 32);
  });
}

}  // namespace
}  // namespace allm::gguf::test
