// The invariant that makes a KV cache correct: at every step of an incremental
// generation, the logits of the newest position equal those of one full
// forward pass over the whole sequence so far. Checked for 40 generated tokens
// (past every sliding window) on every fixture checkpoint with both config
// spellings, and on random checkpoints of other shapes and dtypes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <unistd.h>
#include <vector>

#include "engine_test_util.hpp"
#include "random_checkpoint.hpp"

namespace allm::test {
namespace {

constexpr int kGenerated = 40;

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Greedy generation from `prompt`; returns the worst |decode - full forward| logit difference.
double worst_decode_drift(Model& model, std::vector<int32_t> ids) {
  const int64_t V = model.info().vocab_size;
  std::vector<float> step(static_cast<size_t>(V)), full(static_cast<size_t>(V));
  auto cache = model.make_cache(4);  // small: growth happens mid-generation
  model.forward(ids, *cache, LogitsMode::last, step.data());
  double worst = 0;
  for (int i = 0; i < kGenerated; ++i) {
    auto fresh = model.make_cache();
    model.forward(ids, *fresh, LogitsMode::last, full.data());
    for (int64_t j = 0; j < V; ++j) {
      const double d = std::fabs(double(step[j]) - full[j]);
      worst = std::isnan(d) ? INFINITY : std::max(worst, d);
    }
    const int32_t next = argmax(full);
    ids.push_back(next);
    model.forward(std::span<const int32_t>(&next, 1), *cache, LogitsMode::last, step.data());
  }
  return worst;
}

std::vector<int32_t> prompt_for(int64_t vocab) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(static_cast<int32_t>((i * 37 + 5) % vocab));
  return ids;
}

class DecodeInvariantFixture : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

TEST_P(DecodeInvariantFixture, DecodeEqualsFullForward) {
  const auto& [name, v5] = GetParam();
  Checkpoint ckpt = load_fixture(name, v5);
  auto model = make_model(ckpt);
  const double worst = worst_decode_drift(*model, prompt_for(model->info().vocab_size));
  std::printf("[ %s%s ] worst |decode - full| = %.3g\n", name.c_str(), v5 ? " v5" : "", worst);
  EXPECT_LE(worst, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(AllFixtures, DecodeInvariantFixture,
                         ::testing::Combine(::testing::Values("llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3",
                                                              "phi3", "mixtral", "qwen3_moe", "granite", "smollm3",
                                                              "olmo2", "gpt_oss", "llama-bf16",
                                                              "qwen3-bf16", "llama-mlx4", "qwen3-mlx4", "llama-mlx8",
                                                              "qwen3-mlx8", "llama-mlx-mixed"),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param) + (std::get<1>(info.param) ? "_v5" : "");
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

struct NamedShape {
  const char* name;
  RandomShape shape;
};

std::vector<NamedShape> random_shapes() {
  RandomShape mistral;  // the first report: window 8, hidden 96, 6 heads / 2 KV heads, 3 layers
  mistral.window = 8;
  RandomShape qwen3_bf16;  // the second report
  qwen3_bf16.model_type = "qwen3";
  qwen3_bf16.hidden = 80, qwen3_bf16.heads = 4, qwen3_bf16.kv_heads = 1, qwen3_bf16.head_dim = 24;
  qwen3_bf16.qk_norm = true, qwen3_bf16.tied = true, qwen3_bf16.bf16 = true, qwen3_bf16.seed = 7;
  RandomShape qwen2 = mistral;  // biases, odd sizes, a wide window
  qwen2.model_type = "qwen2", qwen2.hidden = 72, qwen2.heads = 3, qwen2.kv_heads = 3, qwen2.head_dim = 24;
  qwen2.qkv_bias = true, qwen2.window = 0, qwen2.intermediate = 100, qwen2.seed = 3;
  RandomShape llama = mistral;  // MHA, larger heads, bf16
  llama.model_type = "llama", llama.window = 0, llama.hidden = 128, llama.heads = 2, llama.kv_heads = 2;
  llama.head_dim = 64, llama.bf16 = true, llama.seed = 11;
  return {{"mistral_window8", mistral}, {"qwen3_bf16", qwen3_bf16}, {"qwen2_bias", qwen2}, {"llama_bf16_mha", llama}};
}

class DecodeInvariantRandom : public ::testing::TestWithParam<NamedShape> {};

TEST_P(DecodeInvariantRandom, DecodeEqualsFullForward) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("allm_decode_invariant_" + std::string(GetParam().name) + "_" + std::to_string(getpid()));
  write_random_checkpoint(GetParam().shape, dir);
  double worst = 0;
  {
    Checkpoint ckpt = load_checkpoint(dir);
    auto model = make_model(ckpt);
    worst = worst_decode_drift(*model, prompt_for(model->info().vocab_size));
  }
  std::filesystem::remove_all(dir);
  std::printf("[ %s ] worst |decode - full| = %.3g\n", GetParam().name, worst);
  EXPECT_LE(worst, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Shapes, DecodeInvariantRandom, ::testing::ValuesIn(random_shapes()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace allm::test
