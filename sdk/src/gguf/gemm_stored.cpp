// Matrices in their file layout through the VNNI tile kernel: each call
// decodes 16 rows into unsigned codes with a scale and an offset per 16
// weights (w = scale * code - offset), interleaves them as interleave.hpp
// lays out loaded matrices, and multiplies them by 8 tokens at a time. Used
// for several tokens of the block types that are not interleaved at load.
#include "gguf/gemm_vnni.hpp"

#if defined(__x86_64__)
#include <algorithm>
#include <cstring>
#include <vector>

#include "allm/tensor.hpp"
#include "gguf/blocks.hpp"
#include "gguf/codes.hpp"

namespace allm::gguf::detail::vnni_gemm {
namespace {

// ------------------------------------------------------------ row decoding
// One stored row -> u (cols_pad bytes), scale and offset (cols_pad/16 each).

K_FN __m256i nibbles32(const uint8_t* qs) {  // 16 bytes -> low nibbles, then high nibbles
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)), m = _mm_set1_epi8(0xF);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

K_FN __m256i high_bits32(const uint8_t* qh4) {  // bit i of 4 bytes -> 0x10 in byte i
  uint32_t bits;
  std::memcpy(&bits, qh4, 4);
  return _mm256_maskz_set1_epi8(bits, 0x10);
}

K_FN void store32(uint8_t* dst, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), v); }
K_FN __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

K_FN void set_groups(float* scale, float* offset, int64_t g, int count, float s, float off) {
  for (int i = 0; i < count; ++i) {
    scale[g + i] = s;
    offset[g + i] = off;
  }
}

// Q4_0 / Q4_1 / Q5_0 / Q5_1: w = d * q - bias * d (symmetric) or d * q + m.
template <class Block, bool HighBit, bool HasMin, int Bias>
K_FN void decode_classic(const uint8_t* row, int64_t nb, uint8_t* u, float* scale, float* offset) {
  auto* blocks = reinterpret_cast<const Block*>(row);
  for (int64_t b = 0; b < nb; ++b) {
    const Block& blk = blocks[b];
    __m256i q = nibbles32(blk.qs);
    if constexpr (HighBit) q = _mm256_or_si256(q, high_bits32(blk.qh));
    store32(u + 32 * b, q);
    const float d = _cvtsh_ss(blk.d);
    if constexpr (HasMin)
      set_groups(scale, offset, 2 * b, 2, d, -_cvtsh_ss(blk.m));
    else
      set_groups(scale, offset, 2 * b, 2, d, float(Bias) * d);
  }
}

K_FN void decode_q8_0(const uint8_t* row, int64_t nb, uint8_t* u, float* scale, float* offset) {
  auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
  const __m256i flip = _mm256_set1_epi8(char(0x80));  // signed code + 128
  for (int64_t b = 0; b < nb; ++b) {
    store32(u + 32 * b, _mm256_xor_si256(load32(reinterpret_cast<const uint8_t*>(blocks[b].qs)), flip));
    const float d = _cvtsh_ss(blocks[b].d);
    set_groups(scale, offset, 2 * b, 2, d, 128.f * d);
  }
}

// Q4_K / Q5_K: 8 sub-blocks of 32, 6-bit scale and min each: w = d*sc*q - dmin*m.
template <bool HighBits>
K_FN void decode_k4(const uint8_t* row, int64_t nsb, uint8_t* u, float* scale, float* offset) {
  const __m256i m4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t *scales, *qs, *qh = nullptr;
    uint16_t hd, hdmin;
    if constexpr (HighBits) {
      auto& b = reinterpret_cast<const BlockQ5_K*>(row)[s];
      scales = b.scales; qs = b.qs; qh = b.qh; hd = b.d; hdmin = b.dmin;
    } else {
      auto& b = reinterpret_cast<const BlockQ4_K*>(row)[s];
      scales = b.scales; qs = b.qs; hd = b.d; hdmin = b.dmin;
    }
    const float d = _cvtsh_ss(hd), dmin = _cvtsh_ss(hdmin);
    const __m256i hv = HighBits ? load32(qh) : _mm256_setzero_si256();
    uint8_t* out = u + 256 * s;
    for (int j = 0; j < 4; ++j) {
      const __m256i v = load32(qs + 32 * j);
      __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
      if constexpr (HighBits) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hv, _mm_cvtsi32_si128(2 * j)), one), 4));
        hi = _mm256_or_si256(hi,
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hv, _mm_cvtsi32_si128(2 * j + 1)), one), 4));
      }
      store32(out + 64 * j, lo);
      store32(out + 64 * j + 32, hi);
    }
    for (int i = 0; i < 8; ++i) {
      uint8_t sc, m;
      k4_scale_min(i, scales, sc, m);
      set_groups(scale, offset, 16 * s + 2 * i, 2, d * float(sc), dmin * float(m));
    }
  }
}

// Q6_K: 6-bit codes q in [0, 64), a signed 8-bit scale per 16: w = d*sc*(q - 32).
K_FN void decode_q6_k(const uint8_t* row, int64_t nsb, uint8_t* u, float* scale, float* offset) {
  const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
  for (int64_t s = 0; s < nsb; ++s) {
    const BlockQ6_K& b = reinterpret_cast<const BlockQ6_K*>(row)[s];
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    uint8_t* out = u + 256 * s;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, out += 128) {
      const __m256i l0 = load32(ql), l1 = load32(ql + 32), h = load32(qh);
      store32(out, _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4)));
      store32(out + 32, _mm256_or_si256(_mm256_and_si256(l1, m4),
                                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4)));
      store32(out + 64, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4)));
      store32(out + 96, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4)));
    }
    const float d = _cvtsh_ss(b.d);
    for (int g = 0; g < 16; ++g) {
      const float sg = d * float(b.scales[g]);
      set_groups(scale, offset, 16 * s + g, 1, sg, 32.f * sg);
    }
  }
}

// Any other block type through the portable decoder: signed code c -> c + 128.
void decode_generic(DType t, const uint8_t* row, int64_t cols, uint8_t* u, float* scale, float* offset) {
  const int per = decoded_block_elems(t);
  DecodedBlock blk;
  for (int64_t b = 0; b < cols / per; ++b) {
    decode_block(t, row, b, blk);
    for (int i = 0; i < per; ++i) u[b * per + i] = uint8_t(int(blk.code[i]) + 128);
    for (int g = 0; g < per / 16; ++g) {
      scale[b * per / 16 + g] = blk.scale[g];
      offset[b * per / 16 + g] = 128.f * blk.scale[g] + blk.offset[g];
    }
  }
}

K_FN void decode_row(DType t, const uint8_t* row, int64_t cols, int64_t cols_pad, uint8_t* u, float* scale,
                     float* offset) {
  switch (t) {
    case DType::Q8_0: decode_q8_0(row, cols / QK, u, scale, offset); break;
    case DType::Q4_0: decode_classic<BlockQ4_0, false, false, 8>(row, cols / QK, u, scale, offset); break;
    case DType::Q4_1: decode_classic<BlockQ4_1, false, true, 0>(row, cols / QK, u, scale, offset); break;
    case DType::Q5_0: decode_classic<BlockQ5_0, true, false, 16>(row, cols / QK, u, scale, offset); break;
    case DType::Q5_1: decode_classic<BlockQ5_1, true, true, 0>(row, cols / QK, u, scale, offset); break;
    case DType::Q4_K: decode_k4<false>(row, cols / QK_K, u, scale, offset); break;
    case DType::Q5_K: decode_k4<true>(row, cols / QK_K, u, scale, offset); break;
    case DType::Q6_K: decode_q6_k(row, cols / QK_K, u, scale, offset); break;
    default: decode_generic(t, row, cols, u, scale, offset); break;
  }
  std::memset(u + cols, 0, size_t(cols_pad - cols));
  std::fill(scale + cols / 16, scale + cols_pad / 16, 0.f);
  std::fill(offset + cols / 16, offset + cols_pad / 16, 0.f);
}

// ------------------------------------------------------------------ kernel

// Up to kPanelRows rows of one matmul, decoded and interleaved so that one
// 64-byte vector holds the same 4 codes of every row: vpdpbusd against 4
// broadcast activation bytes then gives each row's partial dot product in its
// own lane, and a group's sum needs no horizontal reduction.
struct Panel {
  std::vector<uint8_t> rows;          // kPanelRows x cols_pad, row-major (decode scratch)
  std::vector<float> row_scale, row_offset;  // kPanelRows x cols_pad/16 (decode scratch)
  std::vector<uint8_t> codes;         // cols_pad/4 x kPanelRows dwords
  std::vector<float> scale, offset;   // groups x kPanelRows
};

Panel& thread_panel(int64_t cols_pad) {
  thread_local Panel p;
  const size_t codes = size_t(kPanelRows * cols_pad), groups = size_t(kPanelRows * cols_pad / 16);
  if (p.rows.size() < codes) {
    p.rows.resize(codes);
    p.codes.resize(codes);
  }
  if (p.row_scale.size() < groups) {
    p.row_scale.resize(groups);
    p.row_offset.resize(groups);
    p.scale.resize(groups);
    p.offset.resize(groups);
  }
  return p;
}

// Interleaves the decoded rows (codes as dwords, scales and offsets per group
// of G elements). Rows past `rows` get zero scales.
template <int G>
K_FN void interleave(Panel& p, int64_t cols_pad, int rows) {
  const __m512i row_starts = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                _mm512_set1_epi32(int(cols_pad)));
  const uint8_t* src = p.rows.data();
  auto* dst = reinterpret_cast<__m512i*>(p.codes.data());
  for (int64_t k = 0; k < cols_pad / 4; ++k)
    _mm512_storeu_si512(dst + k, _mm512_i32gather_epi32(row_starts, src + 4 * k, 1));
  const int64_t gp = cols_pad / 16, groups = cols_pad / G;
  constexpr int step = G / 16;  // 16-groups per group (their offsets are equal)
  for (int64_t g = 0; g < groups; ++g)
    for (int r = 0; r < kPanelRows; ++r) {
      const bool live = r < rows;
      p.scale[size_t(g * kPanelRows + r)] = live ? p.row_scale[size_t(r * gp + g * step)] : 0.f;
      p.offset[size_t(g * kPanelRows + r)] = live ? p.row_offset[size_t(r * gp + g * step)] : 0.f;
    }
}

// All kPanelRows rows x T tokens. Per group of G elements and token: G/4
// vpdpbusd give the integer dot of every row, one multiply-add scales it by
// row scale x activation scale, one more takes the offsets back out.
template <int T, int G>
K_FN void tile(const Panel& p, const Activations& a, int64_t t0, float* y, int64_t ldy, int64_t row0, int rows) {
  const int64_t groups = a.cols_pad / G;
  const float* sums = G == 32 ? a.sum32 : a.sum16;
  __m512 acc[T];
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512i w[G / 4];
    for (int k = 0; k < G / 4; ++k) w[k] = _mm512_loadu_si512(p.codes.data() + (g * (G / 4) + k) * 64);
    const __m512 scale = _mm512_loadu_ps(p.scale.data() + g * kPanelRows);
    const __m512 offset = _mm512_loadu_ps(p.offset.data() + g * kPanelRows);
    for (int t = 0; t < T; ++t) {
      const int8_t* xq = a.q + (t0 + t) * a.cols_pad + g * G;
      __m512i dot = _mm512_setzero_si512();
      for (int k = 0; k < G / 4; ++k) {
        int32_t x4;
        std::memcpy(&x4, xq + 4 * k, 4);
        dot = _mm512_dpbusd_epi32(dot, w[k], _mm512_set1_epi32(x4));
      }
      const float dx = a.block_scale[(t0 + t) * a.blocks() + g * G / 32];
      const float sum = sums[(t0 + t) * (a.cols_pad / G) + g];
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(scale, _mm512_set1_ps(dx)), acc[t]);
      acc[t] = _mm512_fnmadd_ps(offset, _mm512_set1_ps(sum), acc[t]);
    }
  }
  const __mmask16 live = __mmask16((1u << rows) - 1);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * ldy + row0, live, acc[t]);
}

template <int G>
K_FN void multiply_panel(const Panel& p, const Activations& a, float* y, int64_t ldy, int64_t row0, int rows) {
  int64_t t = 0;
  for (; t + kTileTokens <= a.n; t += kTileTokens) tile<kTileTokens, G>(p, a, t, y, ldy, row0, rows);
  if (a.n - t >= 4) { tile<4, G>(p, a, t, y, ldy, row0, rows); t += 4; }
  if (a.n - t >= 2) { tile<2, G>(p, a, t, y, ldy, row0, rows); t += 2; }
  if (a.n - t >= 1) tile<1, G>(p, a, t, y, ldy, row0, rows);
}

// Formats whose scales and offsets change every 16 elements.
bool has_16_groups(DType t) { return t == DType::Q6_K || t == DType::Q2_K || t == DType::Q3_K; }

K_FN void matmul_rows_impl(DType type, const uint8_t* base, size_t stride, int64_t r0, int64_t r1, const Activations& a,
                      Panel& p, float* y, int64_t ldy) {
  const int64_t cp = a.cols_pad, gp = cp / 16;
  const bool by16 = has_16_groups(type);
  for (int64_t rb = r0; rb < r1; rb += kPanelRows) {
    const int rows = int(std::min<int64_t>(kPanelRows, r1 - rb));
    for (int i = 0; i < rows; ++i)
      decode_row(type, base + size_t(rb + i) * stride, a.cols, cp, p.rows.data() + i * cp,
                 p.row_scale.data() + i * gp, p.row_offset.data() + i * gp);
    if (by16) {
      interleave<16>(p, cp, rows);
      multiply_panel<16>(p, a, y, ldy, rb, rows);
    } else {
      interleave<32>(p, cp, rows);
      multiply_panel<32>(p, a, y, ldy, rb, rows);
    }
  }
}

}  // namespace

void matmul_stored(DType type, const uint8_t* base, size_t stride, int64_t r0, int64_t r1, const Activations& a,
                   float* y, int64_t ldy) {
  matmul_rows_impl(type, base, stride, r0, r1, a, thread_panel(a.cols_pad), y, ldy);
}

}  // namespace allm::gguf::detail::vnni_gemm

#endif
