// AVX2 + FMA + F16C kernels. This file alone is compiled for AVX2; it is only
// entered after CPUID confirmed support (see dispatch.cpp).
#if defined(__x86_64__)
// GCC takes the ISA for the whole file as a pragma; clang (which ignores that
// pragma) as a target attribute applied to every function below.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif
#include <immintrin.h>

#include "kernels/kernel_table.hpp"

namespace allm::kernels {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 load_bf16(const uint16_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

float dot_f32(const float* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
  float acc = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) acc += w[i] * x[i];
  return acc;
}

float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(load_bf16(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(load_bf16(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_bf16(w + i), _mm256_loadu_ps(x + i), a0);
  float acc = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) acc += bf16_to_float(w[i]) * x[i];
  return acc;
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i))),
                         _mm256_loadu_ps(x + i), a0);
  float acc = hsum(a0);
  for (; i < n; ++i) acc += f16_to_float(w[i]) * x[i];
  return acc;
}

// 8 codes starting at code index j (a multiple of 8) as floats.
inline __m256 codes4(const uint32_t* codes, int64_t j) {
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i shifts = _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4);
  __m128i b = _mm_cvtsi32_si128(static_cast<int>(codes[j / 8]));
  __m256i v = _mm256_cvtepu8_epi32(_mm_shuffle_epi8(b, dup));
  v = _mm256_and_si256(_mm256_srlv_epi32(v, shifts), _mm256_set1_epi32(0xf));
  return _mm256_cvtepi32_ps(v);
}
inline __m256 codes8(const uint32_t* codes, int64_t j) {
  __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + j / 4));
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
}

template <int Bits>
float dot_mlx_bits(const MlxRow& r, const float* x, int64_t n) {
  __m256 total = _mm256_setzero_ps();
  float bias_total = 0;
  const int gs = r.group_size;
  for (int64_t g0 = 0, g = 0; g0 < n; g0 += gs, ++g) {
    __m256 cx = _mm256_setzero_ps();
    for (int64_t j = g0; j < g0 + gs; j += 8)
      cx = _mm256_fmadd_ps(Bits == 4 ? codes4(r.codes, j) : codes8(r.codes, j), _mm256_loadu_ps(x + j), cx);
    total = _mm256_fmadd_ps(cx, _mm256_set1_ps(load_scale(r.scales, r.scale_type, g)), total);
    bias_total += load_scale(r.biases, r.scale_type, g) * r.xsum[g];
  }
  return hsum(total) + bias_total;
}

bool mlx_fast(const MlxRow& r, int64_t n) {
  return (r.bits == 4 || r.bits == 8) && r.group_size % 8 == 0 && n % r.group_size == 0;
}

float dot_mlx(const MlxRow& r, const float* x, int64_t n) {
  if (!mlx_fast(r, n) || !r.xsum) return scalar_table().dot_mlx(r, x, n);
  return r.bits == 4 ? dot_mlx_bits<4>(r, x, n) : dot_mlx_bits<8>(r, x, n);
}

void bf16_to_f32(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, load_bf16(s + i));
  for (; i < n; ++i) d[i] = bf16_to_float(s[i]);
}

void f16_to_f32(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  for (; i < n; ++i) d[i] = f16_to_float(s[i]);
}

void mlx_to_f32(const MlxRow& r, float* d, int64_t n) {
  if (!mlx_fast(r, n)) return scalar_table().mlx_to_f32(r, d, n);
  for (int64_t g0 = 0, g = 0; g0 < n; g0 += r.group_size, ++g) {
    const __m256 s = _mm256_set1_ps(load_scale(r.scales, r.scale_type, g));
    const __m256 b = _mm256_set1_ps(load_scale(r.biases, r.scale_type, g));
    for (int64_t j = g0; j < g0 + r.group_size; j += 8) {
      __m256 c = r.bits == 4 ? codes4(r.codes, j) : codes8(r.codes, j);
      _mm256_storeu_ps(d + j, _mm256_fmadd_ps(c, s, b));
    }
  }
}

template <int R, int T>
void micro(const float* w, const float* x, int64_t k, float* y, int64_t ldy) {
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(x + t * k + i);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = _mm256_loadu_ps(w + r * k + i);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      float s = hsum(acc[r][t]);
      for (int64_t j = i; j < k; ++j) s += w[r * k + j] * x[t * k + j];
      y[t * ldy + r] = s;
    }
}

void gemm_f32(const float* w, int64_t rows, const float* x, int64_t tokens, int64_t k, float* y,
              int64_t ldy) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    int64_t t = 0;
    for (; t + 2 <= tokens; t += 2) micro<4, 2>(w + r * k, x + t * k, k, y + t * ldy + r, ldy);
    for (; t < tokens; ++t) micro<4, 1>(w + r * k, x + t * k, k, y + t * ldy + r, ldy);
  }
  for (; r < rows; ++r)
    for (int64_t t = 0; t < tokens; ++t) y[t * ldy + r] = dot_f32(w + r * k, x + t * k, k);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

float read_sum(const float* p, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) s += p[i];
  return s;
}

}  // namespace

const KernelTable* avx2_table() {
  static const KernelTable table = {"avx2",     dot_f32,    dot_bf16, dot_f16, dot_mlx, bf16_to_f32,
                                    f16_to_f32, mlx_to_f32, gemm_f32, axpy,    read_sum,
                                    gemv_by_rows<dot_bf16>, gemv_by_rows<dot_f16>};
  return &table;
}

}  // namespace allm::kernels
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
#include "kernels/kernel_table.hpp"
namespace allm::kernels {
const KernelTable* avx2_table() { return nullptr; }
}  // namespace allm::kernels
#endif
