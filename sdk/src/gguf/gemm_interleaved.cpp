// Matrices interleaved by 16 rows at load (interleave.hpp) through the VNNI
// kernels: the codes are read straight from the panel, 16 rows per vector,
// for any token count (one token: decode; 8 at a time: prefill).
#include "gguf/gemm_vnni.hpp"

#if defined(__x86_64__)
#include <algorithm>
#include <cstring>

#include "allm/tensor.hpp"

namespace allm::gguf::detail::vnni_gemm {
namespace {

// 32 codes of 16 rows from 4 nibble vectors: c[k] holds codes 4k..4k+3, for
// k >= 4 times 16 (the high nibble left in place: one shift fewer per
// vector), as dot_nibbles expects.
K_FN void unpack_nibbles_x16(const uint8_t* src, __m512i c[8]) {
  const __m512i lo = _mm512_set1_epi8(0x0F), hi = _mm512_set1_epi8(char(0xF0));
  for (int j = 0; j < 4; ++j) {
    const __m512i z = _mm512_loadu_si512(src + 64 * j);
    c[j] = _mm512_and_si512(z, lo);
    c[j + 4] = _mm512_and_si512(z, hi);
  }
}

// Σ over codes [4*k0, 4*k1) of c[k] * x, per row lane.
K_FN __m512i dot_codes(const __m512i c[8], const int8_t* x, int k0, int k1) {
  __m512i even = _mm512_setzero_si512(), odd = _mm512_setzero_si512();
  for (int k = k0; k < k1; k += 2) {
    int32_t a, b;
    std::memcpy(&a, x + 4 * k, 4);
    std::memcpy(&b, x + 4 * k + 4, 4);
    even = _mm512_dpbusd_epi32(even, c[k], _mm512_set1_epi32(a));
    odd = _mm512_dpbusd_epi32(odd, c[k + 1], _mm512_set1_epi32(b));
  }
  return _mm512_add_epi32(even, odd);
}

// Σ code * x over 32 codes unpacked by unpack_nibbles_x16: the high half's
// sum is exactly 16 x its value, so one arithmetic shift restores it.
K_FN __m512i dot_nibbles(const __m512i c[8], const int8_t* x) {
  __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
  for (int k = 0; k < 4; ++k) {
    int32_t a, b;
    std::memcpy(&a, x + 4 * k, 4);
    std::memcpy(&b, x + 4 * k + 16, 4);
    lo = _mm512_dpbusd_epi32(lo, c[k], _mm512_set1_epi32(a));
    hi = _mm512_dpbusd_epi32(hi, c[k + 4], _mm512_set1_epi32(b));
  }
  return _mm512_add_epi32(lo, _mm512_srai_epi32(hi, 4));
}

K_FN __m512 halves16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
// Byte i of every dword moved to the dword's top byte, the rest zero: an
// in-lane shuffle (cheap) instead of a widening one. Converted to float the
// lanes are the (signed) byte times 2^24, which the caller's scale absorbs.
struct TopByte {
  __m512i select[4];
  TopByte() __attribute__((target("avx512f,avx512bw"))) {
    const __m512i dword_bytes = _mm512_set1_epi32(0x00808080);
    const __m512i lane_dword = _mm512_setr_epi32(0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12);
    for (int i = 0; i < 4; ++i)
      select[i] = _mm512_or_si512(dword_bytes, _mm512_slli_epi32(_mm512_add_epi32(lane_dword, _mm512_set1_epi32(i)), 24));
  }
};
constexpr float kTopByte = 1.f / 16777216.f;  // 2^-24

K_FN __m512 byte_lanes(const TopByte& tb, __m512i v, int i) {
  return _mm512_cvtepi32_ps(_mm512_shuffle_epi8(v, tb.select[i]));
}

// Asks for the panel block `bytes` bytes long that starts a few KiB after
// `block`. The hardware prefetcher alone leaves a single thread waiting on
// memory: measured on Zen 4, the Q4_K one-token matmul went from 28 to 53
// GB/s with this (bench/gguf/gguf_kernel_bench.cpp). Prefetching past the end
// of the matrix is harmless.
K_FN void prefetch_ahead(const uint8_t* block, int bytes) {
  const int distance = bytes * 2 > 4096 ? bytes * 2 : 4096;
  for (int line = 0; line < bytes; line += 64)
    _mm_prefetch(reinterpret_cast<const char*>(block + distance + line), _MM_HINT_T0);
}

// acc[t] (16 rows) += one panel's dot products with tokens t0..t0+T-1.
template <DType F, int T>
K_FN void interleaved_tile(const uint8_t* panel, int64_t blocks, const Activations& a, int64_t t0, __m512 acc[T]) {
  const int64_t nb = a.blocks();
  __m512i c[8];
  if constexpr (F == DType::Q4_0_X16) {
    for (int64_t b = 0; b < blocks; ++b, panel += 288) {
      prefetch_ahead(panel, 288);
      unpack_nibbles_x16(panel, c);
      const __m512 d = halves16(panel + 256);
      for (int t = 0; t < T; ++t) {
        const int64_t at = (t0 + t) * nb + b;
        const __m512 v = _mm512_fmsub_ps(_mm512_cvtepi32_ps(dot_nibbles(c, a.q + at * 32)),
                                         _mm512_set1_ps(a.block_scale[at]), _mm512_set1_ps(8.f * a.sum32[at]));
        acc[t] = _mm512_fmadd_ps(d, v, acc[t]);
      }
    }
  } else if constexpr (F == DType::Q8_0_X16) {
    for (int64_t b = 0; b < blocks; ++b, panel += 544) {
      prefetch_ahead(panel, 544);
      for (int k = 0; k < 8; ++k) c[k] = _mm512_loadu_si512(panel + 64 * k);
      const __m512 d = halves16(panel + 512);
      for (int t = 0; t < T; ++t) {
        const int64_t at = (t0 + t) * nb + b;
        const __m512 v = _mm512_fmsub_ps(_mm512_cvtepi32_ps(dot_codes(c, a.q + at * 32, 0, 8)),
                                         _mm512_set1_ps(a.block_scale[at]), _mm512_set1_ps(128.f * a.sum32[at]));
        acc[t] = _mm512_fmadd_ps(d, v, acc[t]);
      }
    }
  } else if constexpr (F == DType::Q4_K_X16) {
    __m512 macc[T];
    for (auto& v : macc) v = _mm512_setzero_ps();
    const TopByte tb;
    for (int64_t b = 0; b < blocks; ++b, panel += 2368) {
      prefetch_ahead(panel, 2368);
      const __m512 d = _mm512_mul_ps(halves16(panel + 2048), _mm512_set1_ps(kTopByte));
      const __m512 dmin = _mm512_mul_ps(halves16(panel + 2080), _mm512_set1_ps(kTopByte));
      for (int s = 0; s < 8; ++s) {
        unpack_nibbles_x16(panel + 256 * s, c);
        const __m512i sc4 = _mm512_loadu_si512(panel + 2112 + 64 * (s / 4));
        const __m512i m4 = _mm512_loadu_si512(panel + 2240 + 64 * (s / 4));
        const __m512 scale = _mm512_mul_ps(d, byte_lanes(tb, sc4, s % 4));
        const __m512 min = _mm512_mul_ps(dmin, byte_lanes(tb, m4, s % 4));
        for (int t = 0; t < T; ++t) {
          const int64_t at = (t0 + t) * nb + 8 * b + s;
          const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(dot_nibbles(c, a.q + at * 32)),
                                         _mm512_set1_ps(a.block_scale[at]));
          acc[t] = _mm512_fmadd_ps(scale, v, acc[t]);
          macc[t] = _mm512_fmadd_ps(min, _mm512_set1_ps(a.sum32[at]), macc[t]);
        }
      }
    }
    for (int t = 0; t < T; ++t) acc[t] = _mm512_sub_ps(acc[t], macc[t]);
  } else {  // Q6_K_X16: 16-element scale groups
    const TopByte tb;
    for (int64_t b = 0; b < blocks; ++b, panel += 4384) {
      prefetch_ahead(panel, 4384);
      const __m512 d = _mm512_mul_ps(halves16(panel + 4096), _mm512_set1_ps(kTopByte));
      for (int j = 0; j < 8; ++j) {
        for (int k = 0; k < 8; ++k) c[k] = _mm512_loadu_si512(panel + 512 * j + 64 * k);
        const __m512i sc4 = _mm512_loadu_si512(panel + 4128 + 64 * (j / 2));
        const __m512 s0 = _mm512_mul_ps(d, byte_lanes(tb, sc4, (2 * j) % 4));
        const __m512 s1 = _mm512_mul_ps(d, byte_lanes(tb, sc4, (2 * j + 1) % 4));
        for (int t = 0; t < T; ++t) {
          const int64_t at = (t0 + t) * nb + 8 * b + j;
          const int8_t* x = a.q + at * 32;
          const __m512 dx = _mm512_set1_ps(a.block_scale[at]);
          const __m512 v0 = _mm512_fmsub_ps(_mm512_cvtepi32_ps(dot_codes(c, x, 0, 4)), dx,
                                            _mm512_set1_ps(32.f * a.sum16[2 * at]));
          const __m512 v1 = _mm512_fmsub_ps(_mm512_cvtepi32_ps(dot_codes(c, x, 4, 8)), dx,
                                            _mm512_set1_ps(32.f * a.sum16[2 * at + 1]));
          acc[t] = _mm512_fmadd_ps(s1, v1, _mm512_fmadd_ps(s0, v0, acc[t]));
        }
      }
    }
  }
}

template <DType F, int T>
K_FN void interleaved_tokens(const uint8_t* panel, int64_t blocks, const Activations& a, int64_t t0, float* y,
                             int64_t ldy, int64_t row0, __mmask16 live) {
  __m512 acc[T];
  for (auto& v : acc) v = _mm512_setzero_ps();
  interleaved_tile<F, T>(panel, blocks, a, t0, acc);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * ldy + row0, live, acc[t]);
}

template <DType F>
K_FN void interleaved_rows(const uint8_t* base, int64_t blocks, size_t panel_bytes, int64_t r0, int64_t r1,
                           const Activations& a, float* y, int64_t ldy) {
  for (int64_t p = r0 / 16; p * 16 < r1; ++p) {
    const int64_t lo = std::max(r0, p * 16) - p * 16, hi = std::min(r1, p * 16 + 16) - p * 16;
    const __mmask16 live = __mmask16(((1u << hi) - 1) & ~((1u << lo) - 1));
    const uint8_t* panel = base + size_t(p) * panel_bytes;
    int64_t t = 0;
    for (; t + kTileTokens <= a.n; t += kTileTokens)
      interleaved_tokens<F, kTileTokens>(panel, blocks, a, t, y, ldy, p * 16, live);
    if (a.n - t >= 4) { interleaved_tokens<F, 4>(panel, blocks, a, t, y, ldy, p * 16, live); t += 4; }
    if (a.n - t >= 2) { interleaved_tokens<F, 2>(panel, blocks, a, t, y, ldy, p * 16, live); t += 2; }
    if (a.n - t >= 1) interleaved_tokens<F, 1>(panel, blocks, a, t, y, ldy, p * 16, live);
  }
}

}  // namespace

void matmul_interleaved(DType type, const uint8_t* base, int64_t blocks, size_t panel_bytes, int64_t r0, int64_t r1,
                        const Activations& a, float* y, int64_t ldy) {
  switch (type) {
    case DType::Q4_0_X16: interleaved_rows<DType::Q4_0_X16>(base, blocks, panel_bytes, r0, r1, a, y, ldy); break;
    case DType::Q4_K_X16: interleaved_rows<DType::Q4_K_X16>(base, blocks, panel_bytes, r0, r1, a, y, ldy); break;
    case DType::Q8_0_X16: interleaved_rows<DType::Q8_0_X16>(base, blocks, panel_bytes, r0, r1, a, y, ldy); break;
    default: interleaved_rows<DType::Q6_K_X16>(base, blocks, panel_bytes, r0, r1, a, y, ldy); break;
  }
}

}  // namespace allm::gguf::detail::vnni_gemm

#endif
