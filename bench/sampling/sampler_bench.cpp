// Microseconds per Sampler::sample call over one Llama 3-sized logits row
// (128,256 entries), for the sampling settings a chat client sends: plain
// temperature, top_k, top_p over a peaked and over a flat distribution,
// min_p. Each figure is the median of many calls (each timed alone, on a
// fresh copy of the row, so no call sees a row the last one modified).
//
// Peaked: N(0, 1) logits times 3 plus a few strong candidates, a shape like a
// real model's (nucleus at top_p 0.9: tens of tokens). Flat: N(0, 1) logits
// (top_p 0.9 keeps most of the vocabulary), the worst case for any sampler
// that orders its candidates.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "allm/sampling.hpp"

namespace {

constexpr int64_t kVocab = 128256;

std::vector<float> make_logits(bool peaked, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> l(kVocab);
  for (auto& v : l) v = (peaked ? 3.0f : 1.0f) * normal(gen);
  if (peaked)
    for (int i = 0; i < 8; ++i) l[gen() % kVocab] = 16.0f + static_cast<float>(i) * 0.5f;
  return l;
}

double median_us(const allm::SamplingParams& p, const std::vector<std::vector<float>>& rows, int calls) {
  allm::Sampler s(p, kVocab);
  std::vector<float> work(kVocab);
  std::vector<double> us;
  volatile int32_t sink = 0;
  for (int c = 0; c < calls; ++c) {
    const auto& row = rows[static_cast<size_t>(c) % rows.size()];
    std::copy(row.begin(), row.end(), work.begin());
    const auto t0 = std::chrono::steady_clock::now();
    sink = s.sample(work.data(), {}, {});
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  (void)sink;
  std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
  return us[us.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::max(1, std::atoi(argv[1])) : 101;
  std::vector<std::vector<float>> peaked, flat;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    peaked.push_back(make_logits(true, seed));
    flat.push_back(make_logits(false, seed + 100));
  }
  struct Case {
    const char* name;
    double temperature;
    int64_t top_k;
    double top_p, min_p;
    bool peaked;
  };
  const Case cases[] = {
      {"temperature 0.8", 0.8, 0, 1.0, 0.0, true},
      {"temperature 0.8, top_k 40", 0.8, 40, 1.0, 0.0, true},
      {"top_p 0.9, peaked", 0.8, 0, 0.9, 0.0, true},
      {"top_p 0.9, flat", 1.0, 0, 0.9, 0.0, false},
      {"min_p 0.05, peaked", 0.8, 0, 1.0, 0.05, true},
      {"min_p 0.05, flat", 1.0, 0, 1.0, 0.05, false},
      {"top_k 40, top_p 0.95, min_p 0.05", 0.8, 40, 0.95, 0.05, true},
      {"temperature 0 (argmax)", 0.0, 0, 1.0, 0.0, true},
  };
  std::printf("Sampler::sample over %lld logits, median of %d calls\n", static_cast<long long>(kVocab), calls);
  for (const Case& c : cases) {
    allm::SamplingParams p;
    p.temperature = c.temperature;
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    p.seed = 7;
    std::printf("  %-36s %10.1f us\n", c.name, median_us(p, c.peaked ? peaked : flat, calls));
  }
  return 0;
}
