// Files written by `allm convert` load in llama.cpp: tests/data/gguf/
// llama_cpp_greedy.json records llama.cpp's greedy continuation on each of
// them (computed once, so CI needs no llama.cpp). allm, run on the same files
// and fed the same tokens, must pick each of llama.cpp's tokens itself or rank
// it within noise of its own top-1 (llama.cpp keeps an F16 KV cache and
// quantises activations to 8 bits; so does allm's decode path, differently).
#include <gtest/gtest.h>

#include <fstream>

#include "allm/gguf.hpp"
#include "allm/model_loader.hpp"
#include "gguf_test_util.hpp"

namespace allm::gguf::test {
namespace {

nlohmann::json recorded() {
  std::ifstream f(data("llama_cpp_greedy.json"));
  return nlohmann::json::parse(f)["files"];
}

std::vector<std::string> names() {
  std::vector<std::string> out;
  const nlohmann::json all = recorded();
  for (auto& [k, v] : all.items()) out.push_back(k);
  return out;
}

class LlamaCppGreedy : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaCppGreedy, SameTokensAsLlamaCpp) {
  const std::string name = GetParam();
  const auto rec = recorded()[name];
  const auto dash = name.rfind('-');
  const std::string model = name.substr(0, dash), type = name.substr(dash + 1);
  auto path = std::filesystem::temp_directory_path() / ("allm-rt-" + std::to_string(::getpid()) + "-" + name + ".gguf");
  ConvertOptions opt;
  opt.type = *file_type_from_name(type);
  write_checkpoint(allm::load_checkpoint(std::filesystem::path(ALLM_TEST_DATA_DIR) / "models" / model), path, opt);

  auto m = make_model(allm::load_checkpoint(path));
  const int64_t vocab = m->info().vocab_size;
  auto cache = m->make_cache();
  std::vector<float> logits(static_cast<size_t>(vocab));
  m->forward(rec["prompt"].get<std::vector<int32_t>>(), *cache, LogitsMode::last, logits.data());
  const auto expected = rec["llama_cpp_greedy"].get<std::vector<int32_t>>();
  // Teacher-forced on llama.cpp's tokens: at every step llama.cpp's choice must
  // be allm's top-1, or lose to it by no more than quantisation noise.
  const bool exact_weights = type == "f32" || type == "f16";
  const float tolerance = exact_weights ? 0.05f : 0.35f;
  size_t same = 0;
  float worst = 0;
  for (size_t step = 0; step < expected.size(); ++step) {
    const int32_t best = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    const float gap = logits[size_t(best)] - logits[size_t(expected[step])];
    worst = std::max(worst, gap);
    same += best == expected[step];
    EXPECT_LE(gap, tolerance) << name << " step " << step << ": allm prefers " << best << ", llama.cpp chose "
                              << expected[step];
    m->forward(std::vector<int32_t>{expected[step]}, *cache, LogitsMode::last, logits.data());
  }
  std::printf("[ %s ] %zu of %zu greedy tokens identical to llama.cpp; largest logit gap %.3f\n", name.c_str(), same,
              expected.size(), worst);
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Converted, LlamaCppGreedy, ::testing::ValuesIn(names()), [](const auto& info) {
  std::string n = info.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
});

}  // namespace
}  // namespace allm::gguf::test
