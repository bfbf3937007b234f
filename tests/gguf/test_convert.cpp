// `allm convert`'s writer against llama.cpp's own converter and llama-quantize:
// converting the fixture checkpoints gives the same tensors, byte for byte, as
// tests/data/gguf (same types from the Q4_K_M recipe, same Q/K permutation,
// same gemma norms, same stacked experts) and the metadata llama.cpp reads.
// An MLX checkpoint is dequantized, requantized and still runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/model_loader.hpp"
#include "allm/safetensors.hpp"
#include "gguf_test_util.hpp"

namespace allm::gguf::test {
namespace {

std::filesystem::path model_dir(const std::string& name) {
  return std::filesystem::path(ALLM_TEST_DATA_DIR) / "models" / name;
}

std::filesystem::path convert(const std::string& model, const std::string& type) {
  auto out = std::filesystem::temp_directory_path() /
             ("allm-convert-" + std::to_string(::getpid()) + "-" + model + "-" + type + ".gguf");
  ConvertOptions opt;
  opt.type = *file_type_from_name(type);
  uint64_t last = 0;
  opt.progress = [&](uint64_t done, uint64_t total, const std::string&) {
    EXPECT_GE(done, last);
    EXPECT_LE(done, total);
    last = done;
  };
  write_checkpoint(allm::load_checkpoint(model_dir(model)), out, opt);
  return out;
}

struct Pair {
  std::string model, type;
};

class ConvertMatchesLlamaCpp : public ::testing::TestWithParam<Pair> {};

TEST_P(ConvertMatchesLlamaCpp, SameTensorsAndMetadata) {
  const auto& [model, type] = GetParam();
  auto path = convert(model, type);
  auto ours = File::open(path);
  auto ref = File::open(data(model + "-" + type + ".gguf"));
  ASSERT_EQ(ours->tensors().size(), ref->tensors().size());
  for (const auto& r : ref->tensors()) {
    auto* o = ours->find_tensor(r.name);
    ASSERT_NE(o, nullptr) << r.name;
    EXPECT_EQ(dtype_name(o->dtype), std::string(dtype_name(r.dtype))) << r.name;
    ASSERT_EQ(o->ne, r.ne) << r.name;
    ASSERT_EQ(o->nbytes, r.nbytes) << r.name;
    EXPECT_EQ(std::memcmp(ours->tensor_data(*o), ref->tensor_data(r), r.nbytes), 0) << r.name;
  }
  for (const auto& [key, value] : ref->metadata()) {
    if (key.rfind("general.", 0) == 0) continue;  // names, size labels, sampling extras
    auto* v = ours->find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(v->type, value.type) << key;
    if (value.type == ValueType::F32)
      EXPECT_FLOAT_EQ(v->value.get<float>(), value.value.get<float>()) << key;
    else
      EXPECT_EQ(v->as_json(), value.as_json()) << key;
  }
  std::filesystem::remove(path);
}

std::vector<Pair> pairs() {
  std::vector<Pair> out;
  for (auto t : {"f32", "f16", "q8_0", "q4_0", "q4_k_m"}) out.push_back({"llama", t});
  for (auto t : {"f32", "f16", "q8_0", "q4_0", "q4_k_m"}) out.push_back({"qwen3", t});
  for (auto m : {"qwen2", "mistral", "gemma3", "mixtral", "qwen3_moe"}) out.push_back({m, "q8_0"});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ConvertMatchesLlamaCpp, ::testing::ValuesIn(pairs()), [](const auto& info) {
  return info.param.model + "_" + info.param.type;
});

// MLX 4-bit -> Q8_0 GGUF: the requantized file reproduces the MLX reference logits.
TEST(GgufConvert, MlxCheckpointRequantizes) {
  auto path = convert("llama-mlx4", "q8_0");
  auto ck = allm::load_checkpoint(path);
  EXPECT_EQ(ck.weights->get("model.layers.0.mlp.down_proj.weight").dtype, DType::Q8_0);
  auto model = make_model(ck);
  auto ref = SafetensorsFile::open(model_dir("llama-mlx4") / "reference.safetensors");
  auto ids = values<int32_t>(ref.get("input_ids"));
  auto expected = values<float>(ref.get("logits"));
  auto cache = model->make_cache();
  std::vector<float> logits(expected.size());
  model->forward(ids, *cache, LogitsMode::all, logits.data());
  double max_diff = 0, sq = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    double d = std::fabs(double(logits[i]) - expected[i]);
    max_diff = std::max(max_diff, d);
    sq += d * d;
  }
  double rms = std::sqrt(sq / double(logits.size()));
  std::printf("[ llama-mlx4 -> q8_0 ] max |diff| = %.4f  rms = %.4f\n", max_diff, rms);
  EXPECT_LE(max_diff, 0.3);  // Q8_0's grid cannot hold MLX's 4-bit grid exactly
  EXPECT_LE(rms, 0.05);
  std::filesystem::remove(path);
}

// Every generation default with a GGUF key survives the round trip, with the
// checkpoint's own values as the oracle (the fixture's generation_config.json
// has repetition_penalty 1.05 and eos_token_id [2, 0]).
TEST(GgufConvert, GenerationDefaultsRoundTrip) {
  auto src = allm::load_checkpoint(model_dir("qwen3"));
  ASSERT_TRUE(src.generation.repetition_penalty);
  ASSERT_EQ(src.generation.eos_token_ids, (std::vector<int32_t>{2, 0}));
  src.generation.min_p = 0.05;
  auto out = std::filesystem::temp_directory_path() / ("allm-convert-gen-" + std::to_string(::getpid()) + ".gguf");
  ConvertOptions opt;
  opt.type = FileType::F32;
  write_checkpoint(src, out, opt);
  auto back = allm::load_checkpoint(out);
  const auto& a = src.generation;
  const auto& b = back.generation;
  ASSERT_TRUE(b.repetition_penalty && b.temperature && b.top_p && b.top_k && b.min_p);
  EXPECT_FLOAT_EQ(float(*b.repetition_penalty), float(*a.repetition_penalty));
  EXPECT_FLOAT_EQ(float(*b.temperature), float(*a.temperature));
  EXPECT_FLOAT_EQ(float(*b.top_p), float(*a.top_p));
  EXPECT_FLOAT_EQ(float(*b.min_p), 0.05f);
  EXPECT_EQ(*b.top_k, *a.top_k);
  EXPECT_EQ(b.eos_token_ids, a.eos_token_ids);  // id 0 kept, order kept

  // do_sample=false asks for greedy decoding: written as temperature 0.
  src.generation.do_sample = false;
  src.generation.eos_token_ids = {0, 2, 5};
  write_checkpoint(src, out, opt);
  back = allm::load_checkpoint(out);
  ASSERT_TRUE(back.generation.temperature);
  EXPECT_EQ(*back.generation.temperature, 0.0);
  EXPECT_EQ(back.generation.eos_token_ids, (std::vector<int32_t>{0, 2, 5}));
  std::filesystem::remove(out);
}

TEST(GgufConvert, Errors) {
  EXPECT_EQ(file_type_from_name("q3_k_s"), std::nullopt);
  auto ck = allm::load_checkpoint(model_dir("phi3"));
  ConvertOptions opt;
  try {
    write_checkpoint(ck, std::filesystem::temp_directory_path() / "allm-phi3.gguf", opt);
    FAIL();
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("'phi3'"), std::string::npos);
  }
}

}  // namespace
}  // namespace allm::gguf::test
