// A whole model through a backend: prefill P random tokens in one forward
// pass, then decode G tokens one at a time (greedy, from the KV cache), as
// `allm bench` does, without the host library (whose dependencies the GPU
// machine lacks): architecture and checkpoint-loader plugins loaded from a
// folder, the backend chosen by name ("cuda" or "cpu").
//   cuda_model_bench MODEL PLUGIN_DIR [cuda|cpu] [P] [G]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "allm/architecture.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"
#include "cuda_backend.hpp"
#include "model_plugins.hpp"

using namespace allm;
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::fprintf(stderr, "usage: cuda_model_bench MODEL PLUGIN_DIR [cuda|cpu] [PROMPT_TOKENS] [GEN_TOKENS]\n");
    return 2;
  }
  const std::string backend = argc > 3 ? argv[3] : "cuda";
  const int64_t P = argc > 4 ? std::stoll(argv[4]) : 512, G = argc > 5 ? std::stoll(argv[5]) : 128;
  cuda::register_model_plugins(argv[2]);
  auto t0 = std::chrono::steady_clock::now();
  const Checkpoint ckpt = load_checkpoint(argv[1]);
  ArchitectureFactory* f = Registry::instance().architecture(ckpt.model_type);
  if (!f) throw std::runtime_error("no architecture plugin for " + ckpt.model_type);
  ModelOptions opt;
  if (backend == "cuda") opt.backend = cuda::make_cuda_backend();
  auto model = f->create(ckpt, opt);
  const double load_s = seconds_since(t0);
  const int64_t vocab = model->info().vocab_size;
  std::mt19937 rng(1);
  std::vector<int32_t> prompt(static_cast<size_t>(P));
  for (auto& id : prompt) id = int32_t(rng() % uint32_t(vocab));
  std::vector<float> logits(static_cast<size_t>(vocab));
  {  // warm-up: a short prefill and one decode step (first-use costs out of the timings)
    auto cache = model->make_cache(P + G + 32);
    model->forward(std::vector<int32_t>(prompt.begin(), prompt.begin() + std::min<int64_t>(16, P)), *cache,
                   LogitsMode::last, logits.data());
    model->forward(std::vector<int32_t>{prompt[0]}, *cache, LogitsMode::last, logits.data());
  }
  auto cache = model->make_cache(P + G + 1);
  t0 = std::chrono::steady_clock::now();
  model->forward(prompt, *cache, LogitsMode::last, logits.data());
  const double prefill_s = seconds_since(t0);
  std::vector<double> steps;
  int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < G; ++i) {
    const auto s0 = std::chrono::steady_clock::now();
    model->forward(std::vector<int32_t>{next}, *cache, LogitsMode::last, logits.data());
    next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    steps.push_back(seconds_since(s0));
  }
  const double decode_s = seconds_since(t0);
  std::sort(steps.begin(), steps.end());
  std::printf("%s on %s: load %.1f s, prefill %lld tokens %.1f tok/s, decode %lld tokens %.1f tok/s (median step "
              "%.2f ms), weights %.2f GB/token -> %.0f GB/s\n",
              argv[1], backend.c_str(), load_s, (long long)P, P / prefill_s, (long long)G, G / decode_s,
              steps[steps.size() / 2] * 1e3, model->info().bytes_per_token / 1e9,
              model->info().bytes_per_token / (steps[steps.size() / 2]) / 1e9);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cuda_model_bench: %s\n", e.what());
  return 1;
}
