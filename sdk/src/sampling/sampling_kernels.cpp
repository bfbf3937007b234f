// The sampler's row passes: one body per pass, written with the GCC/clang
// vector extension at the ISA's own width (4 floats for the baseline SSE2 /
// NEON build, 8 for AVX2+FMA, 16 for AVX-512's weights; vectors wider than the
// ISA are lowered to scalar code, and plain loops did not auto-vectorise),
// compiled inside functions with target attributes on x86-64. The bodies call
// no library functions: an out-of-line library function instantiated inside
// a wider-ISA function could be merged into callers that run on older CPUs.
#include "sampling/sampling_kernels.hpp"

#include <cstdlib>
#include <cstring>

// Every function taking or returning a vector is inlined into the table's
// functions (which take and return none), so the calling-convention change
// GCC warns about for wide vectors never applies.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace allm::sampling {
namespace {

template <int W>
struct Vec {
  typedef float f __attribute__((vector_size(W * 4), aligned(4), may_alias));
  typedef int32_t i __attribute__((vector_size(W * 4), aligned(4), may_alias));
  typedef double d __attribute__((vector_size(W * 8)));
};

#define ALLM_BODY [[gnu::always_inline]] inline

template <int W>
ALLM_BODY typename Vec<W>::f splat(float v) {
  return typename Vec<W>::f{} + v;
}
template <int W>
ALLM_BODY typename Vec<W>::f select(const typename Vec<W>::i& mask, const typename Vec<W>::f& a,
                                    const typename Vec<W>::f& b) {
  using vf = typename Vec<W>::f;
  using vi = typename Vec<W>::i;
  return __builtin_bit_cast(vf, (mask & __builtin_bit_cast(vi, a)) | (~mask & __builtin_bit_cast(vi, b)));
}
template <int W>
ALLM_BODY typename Vec<W>::f load(const float* x) {
  return *reinterpret_cast<const typename Vec<W>::f*>(x);
}
// x[0..len) and `fill` after it (len < W: a row's last, partial vector).
template <int W>
ALLM_BODY typename Vec<W>::f load_partial(const float* x, int64_t len, float fill) {
  typename Vec<W>::f v = splat<W>(fill);
  for (int64_t j = 0; j < len; ++j) v[j] = x[j];
  return v;
}
// Whether any lane of a comparison's mask is set: halves OR-ed together.
template <int W>
ALLM_BODY bool any(const typename Vec<W>::i& v) {
  if constexpr (W == 16) {
    return any<8>(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) |
                  __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15));
  } else if constexpr (W == 8) {
    return any<4>(__builtin_shufflevector(v, v, 0, 1, 2, 3) | __builtin_shufflevector(v, v, 4, 5, 6, 7));
  } else {
    static_assert(W == 4);
    return __builtin_bit_cast(unsigned __int128, v) != 0;
  }
}
template <int W>
ALLM_BODY float hsum(const typename Vec<W>::f& v) {
  if constexpr (W == 16) {
    return hsum<8>(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                   __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15));
  } else if constexpr (W == 8) {
    return hsum<4>(__builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7));
  } else {
    static_assert(W == 4);
    return (v[0] + v[2]) + (v[1] + v[3]);
  }
}

template <int W>
ALLM_BODY float max_body(const float* x, int64_t n, bool* nan_seen) {
  using vf = typename Vec<W>::f;
  using vi = typename Vec<W>::i;
  // Four accumulators: one would wait on its own compare and blend each step.
  vf m[4] = {splat<W>(-__builtin_inff()), splat<W>(-__builtin_inff()), splat<W>(-__builtin_inff()),
             splat<W>(-__builtin_inff())};
  vi nan = {};
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W)
    for (int k = 0; k < 4; ++k) {
      const vf v = load<W>(x + i + k * W);
      m[k] = select<W>(v > m[k], v, m[k]);  // NaN compares false: ignored
      nan |= v != v;
    }
  for (; i < n; i += W) {
    const vf v = i + W <= n ? load<W>(x + i) : load_partial<W>(x + i, n - i, -__builtin_inff());
    m[0] = select<W>(v > m[0], v, m[0]);
    nan |= v != v;
  }
  for (int k = 1; k < 4; ++k) m[0] = select<W>(m[k] > m[0], m[k], m[0]);
  float best = m[0][0];
  for (int j = 1; j < W; ++j) best = m[0][j] > best ? m[0][j] : best;
  *nan_seen = any<W>(nan);
  return best;
}

// e^x for x <= 0 (Cephes' expf: x = n ln 2 + r, |r| <= ln 2 / 2, a degree-5
// polynomial for e^r, 2^n from the exponent bits); ~1 ulp. 0 below -87
// (where 2^n would leave float's normal range) and for NaN; e^0 is exactly 1.
template <int W>
ALLM_BODY typename Vec<W>::f exp_nonpositive(const typename Vec<W>::f& x) {
  using vf = typename Vec<W>::f;
  using vi = typename Vec<W>::i;
  const vf lo = splat<W>(-87.0f);
  const vi in_range = x >= lo;  // false for NaN
  const vf xc = select<W>(in_range, x, lo);
  const vf magic = splat<W>(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const vf shifted = xc * 1.44269504088896341f + magic;
  const vf n = shifted - magic;
  vf r = xc - n * 0.693359375f;  // ln 2 in two parts: n times the first is exact
  r = r - n * -2.12194440e-4f;
  vf p = splat<W>(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const vi e = __builtin_bit_cast(vi, shifted) - __builtin_bit_cast(vi, magic);
  const vf scale = __builtin_bit_cast(vf, (e + 127) << 23);
  return __builtin_bit_cast(vf, in_range & __builtin_bit_cast(vi, p * scale));
}

// The weights of one vector of logits, added to the chunk's lane sums.
template <int W, bool Levels>
ALLM_BODY typename Vec<W>::f weights_step(const typename Vec<W>::f& xv, float mx, float inv_t, typename Vec<W>::f& acc,
                                          typename Vec<W>::f* lm) {
  using vf = typename Vec<W>::f;
  using vi = typename Vec<W>::i;
  const vf t = (xv - mx) * inv_t;
  const vf v = exp_nonpositive<W>(t);
  acc += v;
  if constexpr (Levels)
    for (int k = 0; k < kLevels; ++k) lm[k] += __builtin_bit_cast(vf, (t >= -kLevelU[k]) & __builtin_bit_cast(vi, v));
  return v;
}

template <int W, bool Levels>
ALLM_BODY void weights_body(const float* x, int64_t n, float mx, float inv_t, float* w, double* chunk_sums,
                            WeightSums* sums) {
  using vf = typename Vec<W>::f;
  using vd = typename Vec<W>::d;
  double total = 0;
  vd level_mass[kLevels] = {};
  for (int64_t c0 = 0, c = 0; c0 < n; c0 += kChunk, ++c) {
    const int64_t len = n - c0 < kChunk ? n - c0 : kChunk;
    // Float lanes within a chunk (kChunk / W terms each), double across chunks.
    vf acc = {};
    vf lm[kLevels] = {};
    int64_t i = 0;
    for (; i + W <= len; i += W)
      *reinterpret_cast<vf*>(w + c0 + i) = weights_step<W, Levels>(load<W>(x + c0 + i), mx, inv_t, acc, lm);
    if (i < len) {
      const vf v = weights_step<W, Levels>(load_partial<W>(x + c0 + i, len - i, -__builtin_inff()), mx, inv_t, acc, lm);
      for (int64_t j = 0; j < len - i; ++j) w[c0 + i + j] = v[j];
    }
    chunk_sums[c] = hsum<W>(acc);
    total += chunk_sums[c];
    if constexpr (Levels)
      for (int k = 0; k < kLevels; ++k) level_mass[k] += __builtin_convertvector(lm[k], vd);
  }
  sums->total = total;
  for (int k = 0; k < kLevels; ++k) {
    double s = 0;
    for (int j = 0; j < W; ++j) s += level_mass[k][j];
    sums->level_mass[k] = s;
  }
}

// Blocks of 4 vectors with no entry at or above the floor (nearly all of them
// when the floor is near the top of a row) cost four compares and a test.
template <int W>
ALLM_BODY int64_t select_body(const float* x, int64_t n, float floor, int32_t* out) {
  using vi = typename Vec<W>::i;
  int64_t m = 0, i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    const vi hit = (load<W>(x + i) >= floor) | (load<W>(x + i + W) >= floor) | (load<W>(x + i + 2 * W) >= floor) |
                   (load<W>(x + i + 3 * W) >= floor);
    if (any<W>(hit))
      for (int64_t j = i; j < i + 4 * W; ++j) {
        out[m] = static_cast<int32_t>(j);
        m += x[j] >= floor;
      }
  }
  for (; i < n; ++i) {
    out[m] = static_cast<int32_t>(i);
    m += x[i] >= floor;
  }
  return m;
}

template <int W>
ALLM_BODY int64_t next_above_body(const float* x, int64_t from, int64_t n, float floor) {
  using vi = typename Vec<W>::i;
  int64_t i = from;
  for (; i + 4 * W <= n; i += 4 * W) {
    const vi hit = (load<W>(x + i) > floor) | (load<W>(x + i + W) > floor) | (load<W>(x + i + 2 * W) > floor) |
                   (load<W>(x + i + 3 * W) > floor);
    if (any<W>(hit)) break;
  }
  for (; i < n; ++i)
    if (x[i] > floor) return i;
  return n;
}

#define ALLM_SAMPLING_KERNELS(SUFFIX, W, WE, ATTR)                                                               \
  ATTR float row_max_##SUFFIX(const float* x, int64_t n, bool* nan_seen) { return max_body<W>(x, n, nan_seen); } \
  ATTR void weights_##SUFFIX(const float* x, int64_t n, float mx, float inv_t, float* w, double* chunk_sums,     \
                             WeightSums* sums, bool levels) {                                                    \
    if (levels)                                                                                                  \
      weights_body<WE, true>(x, n, mx, inv_t, w, chunk_sums, sums);                                              \
    else                                                                                                         \
      weights_body<WE, false>(x, n, mx, inv_t, w, chunk_sums, sums);                                             \
  }                                                                                                              \
  ATTR int64_t select_##SUFFIX(const float* x, int64_t n, float floor, int32_t* out) {                           \
    return select_body<W>(x, n, floor, out);                                                                     \
  }                                                                                                              \
  ATTR int64_t next_above_##SUFFIX(const float* x, int64_t from, int64_t n, float floor) {                       \
    return next_above_body<W>(x, from, n, floor);                                                                \
  }                                                                                                              \
  const SamplingKernels kernels_##SUFFIX = {#SUFFIX, row_max_##SUFFIX, weights_##SUFFIX, select_##SUFFIX,        \
                                            next_above_##SUFFIX};

// W: the width of the max and floor passes, WE: of the weights. AVX-512 runs
// the compare passes at 8: GCC 12 turned 16-wide compare masks OR-ed together
// into scalar code (the max took 64 us per 128k row instead of 7).
ALLM_SAMPLING_KERNELS(scalar, 4, 4, )
#if defined(__x86_64__)
ALLM_SAMPLING_KERNELS(avx2, 8, 8, __attribute__((target("avx2,fma"))))
ALLM_SAMPLING_KERNELS(avx512, 8, 16, __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))))
#endif

const SamplingKernels* by_name(const char* isa) {
  if (std::strcmp(isa, "scalar") == 0) return &kernels_scalar;
#if defined(__x86_64__)
  if (std::strcmp(isa, "avx512") == 0 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return &kernels_avx512;
  if (std::strcmp(isa, "avx2") == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return &kernels_avx2;
#endif
  return nullptr;
}

const SamplingKernels& choose() {
  if (const char* forced = std::getenv("ALLM_ISA"))
    if (const SamplingKernels* k = by_name(forced)) return *k;
  if (const SamplingKernels* k = by_name("avx512")) return *k;
  if (const SamplingKernels* k = by_name("avx2")) return *k;
  return kernels_scalar;
}

}  // namespace

const SamplingKernels& sampling_kernels() {
  static const SamplingKernels& chosen = choose();
  return chosen;
}

const SamplingKernels* sampling_kernels(const char* isa) { return by_name(isa); }

}  // namespace allm::sampling
