// Every fixture checkpoint (both config spellings) against transformers:
// logits at every prompt position and the greedy continuation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "allm/safetensors.hpp"
#include "engine_test_util.hpp"

namespace allm::test {
namespace {

struct Case {
  std::string name;
  double tolerance;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const char* n : {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "mixtral", "qwen3_moe",
                        "granite", "smollm3", "olmo2", "gpt_oss", "llama-bf16", "qwen3-bf16"})
    out.push_back({n, 1e-3});
  for (const char* n : {"llama-mlx4", "qwen3-mlx4", "llama-mlx8", "qwen3-mlx8", "llama-mlx-mixed"})
    out.push_back({n, 2e-2});
  return out;
}

template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = static_cast<const T*>(t.data);
  return std::vector<T>(p, p + t.numel());
}

int32_t argmax(const float* v, int64_t n) { return static_cast<int32_t>(std::max_element(v, v + n) - v); }

class FixtureLogits : public ::testing::TestWithParam<std::tuple<Case, bool>> {};

TEST_P(FixtureLogits, MatchesTransformers) {
  const auto& [c, v5] = GetParam();
  Checkpoint ckpt = load_fixture(c.name, v5);
  auto model = make_model(ckpt);
  auto ref = SafetensorsFile::open(fixture(c.name) / "reference.safetensors");
  const auto ids = values<int32_t>(ref.get("input_ids"));
  const auto expected = values<float>(ref.get("logits"));
  const int64_t vocab = model->info().vocab_size, n = static_cast<int64_t>(ids.size());
  ASSERT_EQ(static_cast<int64_t>(expected.size()), n * vocab);

  auto cache = model->make_cache();
  std::vector<float> logits(static_cast<size_t>(n * vocab));
  model->forward(ids, *cache, LogitsMode::all, logits.data());
  double max_diff = 0;
  for (size_t i = 0; i < logits.size(); ++i) max_diff = std::max(max_diff, std::fabs(double(logits[i]) - expected[i]));
  RecordProperty("max_abs_diff", std::to_string(max_diff));
  std::printf("[ %s%s ] max |logit diff| = %.3g\n", c.name.c_str(), v5 ? " v5" : "", max_diff);
  EXPECT_LE(max_diff, c.tolerance) << c.name;

  // Greedy continuation, decoding one token at a time from the cache.
  const auto greedy = values<int32_t>(ref.get("greedy_ids"));
  const auto margins = values<float>(ref.get("greedy_margins"));
  std::vector<float> last(static_cast<size_t>(vocab));
  int32_t next = argmax(logits.data() + (n - 1) * vocab, vocab);
  for (size_t step = 0; step < greedy.size(); ++step) {
    if (margins[step] < 0.05f) break;
    ASSERT_EQ(next, greedy[step]) << c.name << " step " << step;
    model->forward(std::vector<int32_t>{next}, *cache, LogitsMode::last, last.data());
    next = argmax(last.data(), vocab);
  }
}

INSTANTIATE_TEST_SUITE_P(AllFixtures, FixtureLogits, ::testing::Combine(::testing::ValuesIn(cases()), ::testing::Bool()),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param).name + (std::get<1>(info.param) ? "_v5" : "");
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace allm::test
