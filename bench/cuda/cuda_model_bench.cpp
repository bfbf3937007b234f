// A whole model through a backend, measured as llama-bench and
// llama-batched-bench measure llama.cpp, without the host library (whose
// dependencies the GPU machine lacks): architecture and checkpoint-loader
// plugins loaded from a folder, the backend chosen by name ("cuda" or
// "cpu"), prompts of random token ids (no tokenizer needed), an F16 KV cache.
//
//   cuda_model_bench MODEL PLUGIN_DIR [cuda|cpu] [options]
//     --pp P        prefill P tokens into an empty cache (llama-bench ppP; default 512)
//     --tg G        decode G tokens one at a time from an empty cache (tgG; default 128)
//     --rounds R    each measure R times, the median reported (default 3)
//     --batch LIST  batched decode of N sequences for each N of LIST (e.g. 8,32): each
//                   prefilled with --batch-pp tokens (default 128), then --tg steps of one
//                   token per sequence; aggregate tokens/s of the decode (llama-batched-bench's S_TG)
//     --batch-pp P
//     --gpu-layers N  the first N layers on the backend, the rest and the LM head on the CPU
//                     (allm's --gpu-layers; the cuda backend only)
//     --greedy      feed each step the argmax of its logits (taken on the host) instead of a
//                   random token id
// Every step returns its logits to the host and waits for them, as a real
// generation does. The next token is a random id by default, as llama-bench's
// tg test and llama-batched-bench feed theirs (neither samples): the figures
// are the engine's, comparable with theirs. The host's argmax over N rows of
// the vocabulary (what greedy sampling would add) is timed apart and
// printed; --greedy puts it inside the timed steps.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "allm/architecture.hpp"
#include "allm/kv_cache.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"
#include "cuda_backend.hpp"
#include "model_plugins.hpp"

using namespace allm;
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int32_t argmax(const float* row, int64_t n) { return int32_t(std::max_element(row, row + n) - row); }

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: cuda_model_bench MODEL PLUGIN_DIR [cuda|cpu] [--pp P] [--tg G] [--rounds R] "
                 "[--batch N,N...] [--batch-pp P] [--gpu-layers N] [--greedy]\n");
    return 2;
  }
  std::string backend = "cuda";
  int64_t P = 512, G = 128, rounds = 3, batch_pp = 128, gpu_layers = -1;
  bool greedy = false;
  std::vector<int64_t> batches;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "cuda" || a == "cpu") backend = a;
    else if (a == "--pp") P = std::stoll(next());
    else if (a == "--tg") G = std::stoll(next());
    else if (a == "--rounds") rounds = std::max<int64_t>(1, std::stoll(next()));
    else if (a == "--batch-pp") batch_pp = std::stoll(next());
    else if (a == "--gpu-layers") gpu_layers = std::stoll(next());
    else if (a == "--greedy") greedy = true;
    else if (a == "--batch") {
      std::stringstream list(next());
      for (std::string n; std::getline(list, n, ',');) batches.push_back(std::stoll(n));
    } else throw std::runtime_error("unknown option '" + a + "'");
  }
  if (P < 1 || G < 1 || batch_pp < 1) throw std::runtime_error("--pp, --tg and --batch-pp must be positive");
  cuda::register_model_plugins(argv[2]);
  auto t0 = Clock::now();
  const Checkpoint ckpt = load_checkpoint(argv[1]);
  ArchitectureFactory* f = Registry::instance().architecture(ckpt.model_type);
  if (!f) throw std::runtime_error("no architecture plugin for " + ckpt.model_type);
  ModelOptions opt;
  if (backend == "cuda") opt.backend = cuda::make_cuda_backend();
  opt.gpu_layers = gpu_layers;
  auto model = f->create(ckpt, opt);
  const double load_s = seconds_since(t0);
  const ModelInfo& info = model->info();
  const int64_t vocab = info.vocab_size;
  std::mt19937 rng(1);
  auto random_tokens = [&](int64_t n) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (auto& id : ids) id = int32_t(rng() % uint32_t(vocab));
    return ids;
  };
  const int64_t max_batch = batches.empty() ? 1 : std::max<int64_t>(1, *std::max_element(batches.begin(), batches.end()));
  auto pool = model->make_pool(0, KVType::f16);
  // The logits land where the engine puts them (OutputBuffer: page-locked
  // memory for a model on the GPU, as llama.cpp's output buffer);
  // ALLM_BENCH_PAGEABLE=1 puts them in a std::vector instead (measurements:
  // what a download into pageable memory costs).
  const char* pageable_env = std::getenv("ALLM_BENCH_PAGEABLE");
  const bool pageable = pageable_env && std::strcmp(pageable_env, "1") == 0;
  std::vector<float> plain;
  OutputBuffer output;
  if (pageable) plain.resize(static_cast<size_t>(vocab * max_batch));
  else output = OutputBuffer(*model, static_cast<size_t>(vocab * max_batch));
  float* logits = pageable ? plain.data() : output.data();
  std::printf("%s on %s: load %.1f s, %.2f GB of weights read per token; next tokens %s\n", argv[1],
              info.backend.c_str(), load_s, info.bytes_per_token / 1e9,
              greedy ? "greedy (host argmax inside the steps)" : "random (as llama-bench)");
  // The step's next token for each of n rows of logits: greedy, or a random id.
  auto next_tokens = [&](const float* rows, int64_t n, int32_t* out) {
    for (int64_t s = 0; s < n; ++s) out[s] = greedy ? argmax(rows + s * vocab, vocab) : random_tokens(1)[0];
  };

  {  // warm-up: first-use costs (scratch, graphs, allocations) out of the timings
    KVCache cache(pool);
    const auto prompt = random_tokens(P);
    model->forward(prompt, cache, LogitsMode::last, logits);
    // The same prompt every run (rng seeded): runs under different kernel
    // settings (ALLM_CUDA_MMQ=0, ALLM_CUDA_GEMM=tiled, ALLM_CUDA_NORM=block,
    // the cpu backend) can be compared by these figures of the prefill's last
    // logits and of the fourth greedy decode step's after it.
    auto check = [&](const char* what) {
      std::vector<int32_t> order(static_cast<size_t>(vocab));
      for (int32_t i = 0; i < int32_t(vocab); ++i) order[size_t(i)] = i;
      std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                        [&](int32_t a, int32_t b) { return logits[size_t(a)] > logits[size_t(b)]; });
      double sum2 = 0;
      for (int64_t i = 0; i < vocab; ++i) sum2 += double(logits[size_t(i)]) * logits[size_t(i)];
      std::printf("  check: %s: rms %.5f, top 5", what, std::sqrt(sum2 / double(vocab)));
      for (int k = 0; k < 5; ++k) std::printf(" %d (%.4f)", order[size_t(k)], logits[size_t(order[size_t(k)])]);
      std::printf("\n");
    };
    check(("pp" + std::to_string(P) + "'s last logits").c_str());
    for (int i = 0; i < 4; ++i) model->forward(std::vector<int32_t>{argmax(logits, vocab)}, cache, LogitsMode::last, logits);
    check("decode step 4's logits");
  }

  std::vector<double> pp, tg, step_ms;
  for (int64_t r = 0; r < rounds; ++r) {
    {
      KVCache cache(pool);
      const auto prompt = random_tokens(P);
      t0 = Clock::now();
      model->forward(prompt, cache, LogitsMode::last, logits);
      pp.push_back(double(P) / seconds_since(t0));
    }
    KVCache cache(pool);
    int32_t next = random_tokens(1)[0];
    t0 = Clock::now();
    for (int64_t i = 0; i < G; ++i) {
      const auto s0 = Clock::now();
      model->forward(std::vector<int32_t>{next}, cache, LogitsMode::last, logits);
      next_tokens(logits, 1, &next);
      step_ms.push_back(seconds_since(s0) * 1e3);
    }
    tg.push_back(double(G) / seconds_since(t0));
  }
  const double step = median(step_ms);
  // What greedy sampling on the host would add to a step of n sequences
  // (the median of 9 passes over the last step's logits).
  auto argmax_ms = [&](int64_t n) {
    std::vector<double> ms;
    int64_t sink = 0;
    for (int k = 0; k < 9; ++k) {
      const auto a0 = Clock::now();
      for (int64_t s = 0; s < n; ++s) sink += argmax(logits + s * vocab, vocab);
      ms.push_back(seconds_since(a0) * 1e3);
    }
    if (sink < 0) std::printf("\n");  // keeps the passes from being optimised away
    return median(ms);
  };
  std::printf("  pp%lld: %.1f tok/s   tg%lld: %.1f tok/s (median step %.3f ms, %.0f GB/s of weights; host argmax "
              "%.3f ms)   [median of %lld]\n",
              (long long)P, median(pp), (long long)G, median(tg), step, info.bytes_per_token / (step * 1e-3) / 1e9,
              argmax_ms(1), (long long)rounds);
  std::fflush(stdout);

  for (int64_t N : batches) {
    if (N < 1) continue;
    std::vector<double> rates;
    for (int64_t r = 0; r < rounds; ++r) {
      std::vector<std::unique_ptr<KVCache>> caches;
      std::vector<std::vector<int32_t>> tokens(static_cast<size_t>(N));
      for (int64_t s = 0; s < N; ++s) {
        caches.push_back(std::make_unique<KVCache>(pool));
        const auto prompt = random_tokens(batch_pp);
        model->forward(prompt, *caches.back(), LogitsMode::last, logits);
        tokens[size_t(s)] = {argmax(logits, vocab)};
      }
      std::vector<BatchEntry> batch(static_cast<size_t>(N));
      t0 = Clock::now();
      for (int64_t i = 0; i < G; ++i) {
        for (int64_t s = 0; s < N; ++s) batch[size_t(s)] = BatchEntry{caches[size_t(s)].get(), tokens[size_t(s)]};
        model->forward(std::span<const BatchEntry>(batch), logits);
        for (int64_t s = 0; s < N; ++s) next_tokens(logits + s * vocab, 1, &tokens[size_t(s)][0]);
      }
      rates.push_back(double(N * G) / seconds_since(t0));
    }
    std::printf("  batched decode, %lld sequences (pp%lld each, tg%lld): %.1f tok/s aggregate   [median of %lld]; "
                "host argmax of %lld rows: %.3f ms a step\n",
                (long long)N, (long long)batch_pp, (long long)G, median(rates), (long long)rounds, (long long)N,
                argmax_ms(N));
    std::fflush(stdout);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cuda_model_bench: %s\n", e.what());
  return 1;
}
