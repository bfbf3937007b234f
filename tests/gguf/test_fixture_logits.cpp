// Every tests/data/gguf file, loaded through the `.gguf` checkpoint loader and
// run by the engine, against llama.cpp's logits on the same file
// (NAME.reference.safetensors). Float files: max |diff| <= 6e-2 (llama.cpp keeps
// its KV cache in F16). Quantized files: the reference is llama.cpp on the
// file's exact dequantization, so max <= 0.75, RMS <= 0.2 and the same top-1
// wherever the reference's top-1 leads by more than 0.3.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "allm/model_loader.hpp"
#include "allm/safetensors.hpp"
#include "gguf_test_util.hpp"

namespace allm::gguf::test {
namespace {

bool is_float_file(const std::string& name) {
  return name.find("-f32") != std::string::npos || name.find("-f16") != std::string::npos;
}

class GgufLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufLogits, MatchLlamaCpp) {
  const std::string name = GetParam();
  Checkpoint ckpt = allm::load_checkpoint(data(name + ".gguf"));
  auto model = make_model(ckpt);
  auto ref = SafetensorsFile::open(data(name + ".reference.safetensors"));
  const auto ids = values<int32_t>(ref.get("input_ids"));
  const auto expected = values<float>(ref.get("logits"));
  const int64_t vocab = model->info().vocab_size, n = int64_t(ids.size());
  ASSERT_EQ(int64_t(expected.size()), n * vocab);

  auto cache = model->make_cache();
  std::vector<float> logits(size_t(n * vocab));
  model->forward(ids, *cache, LogitsMode::all, logits.data());

  double max_diff = 0, sq = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    double d = std::fabs(double(logits[i]) - expected[i]);
    max_diff = std::max(max_diff, d);
    sq += d * d;
  }
  double rms = std::sqrt(sq / double(logits.size()));
  std::printf("[ %s ] max |diff| = %.4f  rms = %.4f\n", name.c_str(), max_diff, rms);
  RecordProperty("max_abs_diff", std::to_string(max_diff));
  RecordProperty("rms_diff", std::to_string(rms));
  if (is_float_file(name)) {
    EXPECT_LE(max_diff, 6e-2);
  } else {
    EXPECT_LE(max_diff, 0.75);
    EXPECT_LE(rms, 0.2);
  }
  for (int64_t t = 0; t < n; ++t) {
    const float* r = expected.data() + t * vocab;
    const float* g = logits.data() + t * vocab;
    int64_t top = std::max_element(r, r + vocab) - r;
    float second = -INFINITY;
    for (int64_t v = 0; v < vocab; ++v)
      if (v != top) second = std::max(second, r[v]);
    if (r[top] - second > 0.3f) {
      EXPECT_EQ(std::max_element(g, g + vocab) - g, top) << name << " position " << t;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFiles, GgufLogits, ::testing::ValuesIn(fixture_names()), [](const auto& info) {
  std::string n = info.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
});

}  // namespace
}  // namespace allm::gguf::test
