// AVX-512 kernels of attention_kernels.hpp. Like the other ISA files this one
// is compiled for its ISA alone and includes no standard-library headers (see
// kernel_table.hpp); the backend calls it only with the AVX-512 table active.
#if defined(__x86_64__)
#include "kernels/isa_avx512_begin.hpp"

#include "kernels/attention_kernels.hpp"

namespace allm::kernels::attn {
namespace {

template <bool F16>
inline __m512 load_row(const uint8_t* row, int64_t c) {
  if (F16) return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c * 2)));
  return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + c);
}

// V vectors of 16 per row (d = 16 V). Four positions at a time per head: four
// independent sums keep the FMA unit busy, the head's query stays in registers.
template <bool F16, int V>
void scores_v(const uint8_t* keys, int64_t row_bytes, int64_t len, const float* q, int64_t group, float* s,
              int64_t lds) {
  for (int64_t h = 0; h < group; ++h) {
    __m512 qv[V];
    for (int v = 0; v < V; ++v) qv[v] = _mm512_loadu_ps(q + h * V * 16 + v * 16);
    float* out = s + h * lds;
    int64_t j = 0;
    for (; j + 4 <= len; j += 4) {
      const uint8_t* k0 = keys + j * row_bytes;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int v = 0; v < V; ++v) {
        a0 = _mm512_fmadd_ps(load_row<F16>(k0, v * 16), qv[v], a0);
        a1 = _mm512_fmadd_ps(load_row<F16>(k0 + row_bytes, v * 16), qv[v], a1);
        a2 = _mm512_fmadd_ps(load_row<F16>(k0 + 2 * row_bytes, v * 16), qv[v], a2);
        a3 = _mm512_fmadd_ps(load_row<F16>(k0 + 3 * row_bytes, v * 16), qv[v], a3);
      }
      out[j] = _mm512_reduce_add_ps(a0);
      out[j + 1] = _mm512_reduce_add_ps(a1);
      out[j + 2] = _mm512_reduce_add_ps(a2);
      out[j + 3] = _mm512_reduce_add_ps(a3);
    }
    for (; j < len; ++j) {
      __m512 a0 = _mm512_setzero_ps();
      for (int v = 0; v < V; ++v) a0 = _mm512_fmadd_ps(load_row<F16>(keys + j * row_bytes, v * 16), qv[v], a0);
      out[j] = _mm512_reduce_add_ps(a0);
    }
  }
}

// One head's running output stays in registers over the whole block.
template <bool F16, int V>
void values_v(const uint8_t* values, int64_t row_bytes, int64_t len, const float* w, int64_t ldw, int64_t group,
              float* acc) {
  for (int64_t h = 0; h < group; ++h) {
    __m512 a[V];
    float* o = acc + h * V * 16;
    for (int v = 0; v < V; ++v) a[v] = _mm512_loadu_ps(o + v * 16);
    const float* wh = w + h * ldw;
    for (int64_t j = 0; j < len; ++j) {
      const __m512 wj = _mm512_set1_ps(wh[j]);
      const uint8_t* row = values + j * row_bytes;
      for (int v = 0; v < V; ++v) a[v] = _mm512_fmadd_ps(wj, load_row<F16>(row, v * 16), a[v]);
    }
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(o + v * 16, a[v]);
  }
}

}  // namespace

void scores(const uint8_t* keys, int64_t row_bytes, bool f16, int64_t len, const float* q, int64_t group, int64_t d,
            float* s, int64_t lds) {
  if (d == 64) return f16 ? scores_v<true, 4>(keys, row_bytes, len, q, group, s, lds)
                          : scores_v<false, 4>(keys, row_bytes, len, q, group, s, lds);
  if (d == 128) return f16 ? scores_v<true, 8>(keys, row_bytes, len, q, group, s, lds)
                           : scores_v<false, 8>(keys, row_bytes, len, q, group, s, lds);
  f16 ? scores_v<true, 16>(keys, row_bytes, len, q, group, s, lds)
      : scores_v<false, 16>(keys, row_bytes, len, q, group, s, lds);
}

void values(const uint8_t* values, int64_t row_bytes, bool f16, int64_t len, const float* w, int64_t ldw,
            int64_t group, int64_t d, float* acc) {
  if (d == 64) return f16 ? values_v<true, 4>(values, row_bytes, len, w, ldw, group, acc)
                          : values_v<false, 4>(values, row_bytes, len, w, ldw, group, acc);
  if (d == 128) return f16 ? values_v<true, 8>(values, row_bytes, len, w, ldw, group, acc)
                           : values_v<false, 8>(values, row_bytes, len, w, ldw, group, acc);
  f16 ? values_v<true, 16>(values, row_bytes, len, w, ldw, group, acc)
      : values_v<false, 16>(values, row_bytes, len, w, ldw, group, acc);
}

}  // namespace allm::kernels::attn
#include "kernels/isa_avx512_end.hpp"
#endif
