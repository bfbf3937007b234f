// AVX-512 (F/BW/VL/DQ) kernels. This file alone is compiled for AVX-512; it is
// only entered after CPUID confirmed support (see dispatch.cpp).
#if defined(__x86_64__)
#include "kernels/isa_avx512_begin.hpp"

#include "kernels/kernel_table.hpp"

namespace allm::kernels {
namespace {

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
}

inline __m512 load_bf16(const uint16_t* p) {
  __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m512 load_bf16_masked(const uint16_t* p, __mmask16 m) {
  __m256i h = _mm256_maskz_loadu_epi16(m, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

float dot_f32(const float* w, const float* x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(load_bf16(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(load_bf16(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    a0 = _mm512_fmadd_ps(load_bf16_masked(w + i, m), _mm512_maskz_loadu_ps(m, x + i), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))),
                         _mm512_loadu_ps(x + i), a0);
  float acc = _mm512_reduce_add_ps(a0);
  for (; i < n; ++i) acc += f16_to_float(w[i]) * x[i];
  return acc;
}

// 16 codes starting at code index j (a multiple of 16) as floats.
inline __m512 codes4(const uint32_t* codes, int64_t j) {
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i shifts = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
  __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + j / 8));
  __m512i v = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(b, dup));
  v = _mm512_and_si512(_mm512_srlv_epi32(v, shifts), _mm512_set1_epi32(0xf));
  return _mm512_cvtepi32_ps(v);
}
inline __m512 codes8(const uint32_t* codes, int64_t j) {
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + j / 4));
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
}

// Σ code·x over one group of 64 4-bit codes (32 bytes): nibbles are split and
// re-interleaved with byte unpacks, so 64 codes cost a handful of shuffles.
inline __m512 group64_4bit(const uint8_t* bytes, const float* x, __m512 acc) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes));
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_and_si256(v, mask), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
  const __m256i a = _mm256_unpacklo_epi8(lo, hi);  // codes 0-15 | 32-47
  const __m256i b = _mm256_unpackhi_epi8(lo, hi);  // codes 16-31 | 48-63
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(a))), _mm512_loadu_ps(x), acc);
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(b))), _mm512_loadu_ps(x + 16), acc);
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(a, 1))), _mm512_loadu_ps(x + 32), acc);
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(b, 1))), _mm512_loadu_ps(x + 48), acc);
  return acc;
}

template <int Bits>
float dot_mlx_bits(const MlxRow& r, const float* x, int64_t n) {
  __m512 total = _mm512_setzero_ps();
  float bias_total = 0;
  const int gs = r.group_size;
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(r.codes);
  for (int64_t g0 = 0, g = 0; g0 < n; g0 += gs, ++g) {
    __m512 cx = _mm512_setzero_ps();
    if (Bits == 4 && gs % 64 == 0) {
      for (int64_t j = g0; j < g0 + gs; j += 64) cx = group64_4bit(bytes + j / 2, x + j, cx);
    } else {
      for (int64_t j = g0; j < g0 + gs; j += 16)
        cx = _mm512_fmadd_ps(Bits == 4 ? codes4(r.codes, j) : codes8(r.codes, j), _mm512_loadu_ps(x + j), cx);
    }
    total = _mm512_fmadd_ps(cx, _mm512_set1_ps(load_scale(r.scales, r.scale_type, g)), total);
    bias_total += load_scale(r.biases, r.scale_type, g) * r.xsum[g];
  }
  return _mm512_reduce_add_ps(total) + bias_total;
}

bool mlx_fast(const MlxRow& r, int64_t n) {
  return (r.bits == 4 || r.bits == 8) && r.group_size % 16 == 0 && n % r.group_size == 0;
}

float dot_mlx(const MlxRow& r, const float* x, int64_t n) {
  if (!mlx_fast(r, n) || !r.xsum) return scalar_table().dot_mlx(r, x, n);
  return r.bits == 4 ? dot_mlx_bits<4>(r, x, n) : dot_mlx_bits<8>(r, x, n);
}

void bf16_to_f32(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, load_bf16(s + i));
  for (; i < n; ++i) d[i] = bf16_to_float(s[i]);
}

void f16_to_f32(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(d + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i))));
  for (; i < n; ++i) d[i] = f16_to_float(s[i]);
}

void mlx_to_f32(const MlxRow& r, float* d, int64_t n) {
  if (!mlx_fast(r, n)) return scalar_table().mlx_to_f32(r, d, n);
  for (int64_t g0 = 0, g = 0; g0 < n; g0 += r.group_size, ++g) {
    const __m512 s = _mm512_set1_ps(load_scale(r.scales, r.scale_type, g));
    const __m512 b = _mm512_set1_ps(load_scale(r.biases, r.scale_type, g));
    for (int64_t j = g0; j < g0 + r.group_size; j += 16) {
      __m512 c = r.bits == 4 ? codes4(r.codes, j) : codes8(r.codes, j);
      _mm512_storeu_ps(d + j, _mm512_fmadd_ps(c, s, b));
    }
  }
}

// R rows x T tokens of dot products sharing every load.
template <int R, int T>
void micro(const float* w, const float* x, int64_t k, float* y, int64_t ldy) {
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < k; i += 16) {
    const __mmask16 m = tail_mask(k - i);
    __m512 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm512_maskz_loadu_ps(m, x + t * k + i);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = _mm512_maskz_loadu_ps(m, w + r * k + i);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

// Prefill's product of many tokens: the weights are transposed, one slice of
// K at a time, into a panel of 32 rows (k-major, 32 KiB: stays in L1), and each
// step k loads the 32 weights as two vectors and broadcasts one activation per
// token into 2 x T accumulators, which end as 32 outputs of a token stored
// whole. No horizontal sums, 24 FMAs per 14 loads: the dot-product form above
// (micro) re-read every token's activations for each 4 rows and reduced 12
// vectors per call, and ran at a fifth of the FMA rate on 512 tokens.
constexpr int64_t kPanelRows = 32, kSliceK = 256, kPanelTokens = 12;
// Fewer tokens than this: the transposition would cost more than it saves.
constexpr int64_t kMinPanelTokens = 16;

inline __mmask16 mask_of(int64_t left) {
  return left <= 0 ? static_cast<__mmask16>(0) : tail_mask(left);
}

template <int T>
void panel_micro(const float* wt, int64_t kc, const float* x, int64_t ldx, float* y, int64_t ldy, __mmask16 m0,
                 __mmask16 m1, bool accumulate) {
  __m512 a[T][2];
  for (int t = 0; t < T; ++t) {
    a[t][0] = accumulate ? _mm512_maskz_loadu_ps(m0, y + t * ldy) : _mm512_setzero_ps();
    a[t][1] = accumulate ? _mm512_maskz_loadu_ps(m1, y + t * ldy + 16) : _mm512_setzero_ps();
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    const __m512 w0 = _mm512_load_ps(wt + kk * kPanelRows), w1 = _mm512_load_ps(wt + kk * kPanelRows + 16);
    for (int t = 0; t < T; ++t) {
      const __m512 xb = _mm512_set1_ps(x[t * ldx + kk]);
      a[t][0] = _mm512_fmadd_ps(w0, xb, a[t][0]);
      a[t][1] = _mm512_fmadd_ps(w1, xb, a[t][1]);
    }
  }
  for (int t = 0; t < T; ++t) {
    _mm512_mask_storeu_ps(y + t * ldy, m0, a[t][0]);
    _mm512_mask_storeu_ps(y + t * ldy + 16, m1, a[t][1]);
  }
}

template <int T>
void panel_tokens(const float* wt, int64_t kc, const float* x, int64_t ldx, float* y, int64_t ldy, __mmask16 m0,
                  __mmask16 m1, bool accumulate, int64_t nt) {
  if constexpr (T > 1) {
    if (nt < T) return panel_tokens<T - 1>(wt, kc, x, ldx, y, ldy, m0, m1, accumulate, nt);
  }
  panel_micro<T>(wt, kc, x, ldx, y, ldy, m0, m1, accumulate);
}

void gemm_panels(const float* w, int64_t rows, const float* x, int64_t tokens, int64_t k, float* y, int64_t ldy) {
  alignas(64) float wt[kSliceK * kPanelRows];
  for (int64_t k0 = 0; k0 < k; k0 += kSliceK) {
    const int64_t kc = k - k0 < kSliceK ? k - k0 : kSliceK;
    for (int64_t r0 = 0; r0 < rows; r0 += kPanelRows) {
      const int64_t nr = rows - r0 < kPanelRows ? rows - r0 : kPanelRows;
      for (int64_t r = 0; r < kPanelRows; ++r) {
        const float* src = w + (r0 + r) * k + k0;
        if (r < nr)
          for (int64_t kk = 0; kk < kc; ++kk) wt[kk * kPanelRows + r] = src[kk];
        else
          for (int64_t kk = 0; kk < kc; ++kk) wt[kk * kPanelRows + r] = 0;
      }
      const __mmask16 m0 = mask_of(nr), m1 = mask_of(nr - 16);
      for (int64_t t0 = 0; t0 < tokens; t0 += kPanelTokens) {
        const int64_t nt = tokens - t0 < kPanelTokens ? tokens - t0 : kPanelTokens;
        panel_tokens<kPanelTokens>(wt, kc, x + t0 * k + k0, k, y + t0 * ldy + r0, ldy, m0, m1, k0 > 0, nt);
      }
    }
  }
}

void gemm_f32(const float* w, int64_t rows, const float* x, int64_t tokens, int64_t k, float* y,
              int64_t ldy) {
  if (tokens >= kMinPanelTokens) return gemm_panels(w, rows, x, tokens, k, y, ldy);
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    int64_t t = 0;
    for (; t + 3 <= tokens; t += 3) micro<4, 3>(w + r * k, x + t * k, k, y + t * ldy + r, ldy);
    for (; t < tokens; ++t) micro<4, 1>(w + r * k, x + t * k, k, y + t * ldy + r, ldy);
  }
  for (; r < rows; ++r)
    for (int64_t t = 0; t < tokens; ++t) y[t * ldy + r] = dot_f32(w + r * k, x + t * k, k);
}

// 16 stored halves (BF16 or F16) widened to floats; `m` masks a row's tail.
template <bool F16>
inline __m512 load_half(const uint16_t* p, __mmask16 m) {
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  return F16 ? _mm512_cvtph_ps(h) : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Four rows at a time, two accumulators each: every activation load serves
// four rows and eight independent FMA chains hide the FMA latency, so one
// thread streams weights at memory speed. The next four rows are prefetched
// while these are summed.
template <bool F16>
void gemv_half(const uint16_t* w, int64_t rows, int64_t k, const float* x, float* y) {
  const __mmask16 all = 0xffff;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const uint16_t* w0 = w + r * k;
    const uint16_t* next = w0 + 4 * k;
    const bool prefetch = r + 8 <= rows;
    __m512 a[4][2];
    for (auto& row : a) row[0] = row[1] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
      if (prefetch)
        for (int j = 0; j < 4; ++j) _mm_prefetch(reinterpret_cast<const char*>(next + j * k + i), _MM_HINT_T0);
      const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
      for (int j = 0; j < 4; ++j) {
        a[j][0] = _mm512_fmadd_ps(load_half<F16>(w0 + j * k + i, all), x0, a[j][0]);
        a[j][1] = _mm512_fmadd_ps(load_half<F16>(w0 + j * k + i + 16, all), x1, a[j][1]);
      }
    }
    for (; i < k; i += 16) {
      const __mmask16 m = tail_mask(k - i);
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
      for (int j = 0; j < 4; ++j) a[j][0] = _mm512_fmadd_ps(load_half<F16>(w0 + j * k + i, m), xv, a[j][0]);
    }
    for (int j = 0; j < 4; ++j) y[r + j] = _mm512_reduce_add_ps(_mm512_add_ps(a[j][0], a[j][1]));
  }
  for (; r < rows; ++r) {
    __m512 a0 = _mm512_setzero_ps();
    for (int64_t i = 0; i < k; i += 16) {
      const __mmask16 m = tail_mask(k - i);
      a0 = _mm512_fmadd_ps(load_half<F16>(w + r * k + i, m), _mm512_maskz_loadu_ps(m, x + i), a0);
    }
    y[r] = _mm512_reduce_add_ps(a0);
  }
}

void gemv_bf16(const uint16_t* w, int64_t rows, int64_t k, const float* x, float* y) {
  gemv_half<false>(w, rows, k, x, y);
}
void gemv_f16(const uint16_t* w, int64_t rows, int64_t k, const float* x, float* y) {
  gemv_half<true>(w, rows, k, x, y);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

float read_sum(const float* p, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(p + i + 48));
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) s += p[i];
  return s;
}

}  // namespace

const KernelTable* avx512_table() {
  static const KernelTable table = {"avx512",   dot_f32,    dot_bf16, dot_f16, dot_mlx, bf16_to_f32,
                                    f16_to_f32, mlx_to_f32, gemm_f32, axpy,    read_sum,
                                    gemv_bf16, gemv_f16};
  return &table;
}

}  // namespace allm::kernels
#include "kernels/isa_avx512_end.hpp"
#else
#include "kernels/kernel_table.hpp"
namespace allm::kernels {
const KernelTable* avx512_table() { return nullptr; }
}  // namespace allm::kernels
#endif
