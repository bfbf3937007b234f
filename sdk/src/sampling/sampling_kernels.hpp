#pragma once
// The sampler's passes over a whole logits row (the max, the softmax weights,
// picking the entries above a floor), vectorised. A Llama 3 row has 128,256
// entries; one std::exp in double per entry cost ~0.8 ms per token, a quarter
// of a GPU decode step. The same plain C++ body is compiled once per ISA
// (baseline x86-64 / AArch64, AVX2+FMA, AVX-512) and one copy is picked at run
// time from CPUID, as the CPU engine picks its kernel table.
#include <cstdint>

namespace allm::sampling {

// Entries per partial sum of the weights: the draw walks these sums, then one
// chunk's weights.
inline constexpr int64_t kChunk = 256;

// The weight pass can also sum the mass of the entries within each of
// these distances of the best logit, in units of temperature
// (u = (max - logit) / temperature, weight e^-u): top_p then picks the
// smallest level that holds its nucleus and orders only that level's entries.
inline constexpr int kLevels = 4;
inline constexpr float kLevelU[kLevels] = {2.0f, 5.0f, 10.0f, 20.0f};

struct WeightSums {
  double total = 0;
  double level_mass[kLevels] = {};  // float lanes within a chunk: ~1e-6 relative
};

struct SamplingKernels {
  const char* name;
  // The largest x[i], ignoring NaN (-inf when there is nothing else);
  // *nan_seen tells whether any x[i] was NaN.
  float (*row_max)(const float* x, int64_t n, bool* nan_seen);
  // w[i] = e^((x[i] - mx) * inv_t) (x[i] <= mx), in float with ~1 ulp error;
  // 0 where that is below e^-87 (float's normal range) or x[i] is NaN, and
  // exactly 1 where x[i] == mx. chunk_sums[c] (n / kChunk rounded up of them)
  // = Σ w over chunk c, in double. sums gets the total, and the levels when
  // `levels` is set.
  void (*weights)(const float* x, int64_t n, float mx, float inv_t, float* w, double* chunk_sums, WeightSums* sums,
                  bool levels);
  // Writes the ids i (ascending) with x[i] >= floor to out; returns how many.
  int64_t (*select_at_least)(const float* x, int64_t n, float floor, int32_t* out);
  // The first i in [from, n) with x[i] > floor; n when there is none.
  int64_t (*next_above)(const float* x, int64_t from, int64_t n, float floor);
};

// The copy for this CPU, picked once; ALLM_ISA=scalar|avx2|avx512 forces one
// (as for the CPU engine's kernels) where this CPU has it.
const SamplingKernels& sampling_kernels();
// A named copy ("scalar": the baseline build, "avx2", "avx512"); nullptr when
// not built in or not supported by this CPU. For tests.
const SamplingKernels* sampling_kernels(const char* isa);

}  // namespace allm::sampling
