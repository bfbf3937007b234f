// AVX-512 VNNI matmul of GGUF block rows by int8 activations (see gemm.hpp).
// Each function that uses AVX-512 carries its own target attribute, so the
// file needs no -march flag and nothing here runs on a CPU without it.
#include "gguf/gemm.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "gguf/blocks.hpp"
#include "gguf/codes.hpp"
#include "gguf/dot_q8_x86.hpp"
#include "gguf/interleave.hpp"
#include "gguf/types.hpp"

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics pass `_mm512_undefined_*()` values through and
// then trip -Wmaybe-uninitialized in the header itself (GCC PR 105593, fixed
// in GCC 13); the values are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace allm::gguf::detail {
namespace {

#define K_FN __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni"))) static inline

constexpr int kPanelRows = 16;  // rows decoded together: one vpdpbusd lane per row
constexpr int kTileTokens = 8;  // tokens multiplied against one panel at a time

int64_t pad64(int64_t cols) { return (cols + 63) / 64 * 64; }

// The prepared buffer: a header, then for every token its int8 codes
// (cols_pad bytes), the scale of each 32-block (cols_pad / 32 floats),
// scale * Σcodes of each 16 and each 32 elements (cols_pad / 16 and / 32
// floats), and Σcodes of each 16 (cols_pad / 16 int16, for the row-at-a-time
// kernels of the one-token path). Everything past `cols` is zero.
struct Header {
  int64_t n, cols, cols_pad, reserved[5];
};
static_assert(sizeof(Header) == 64);

struct Activations {
  int64_t n, cols, cols_pad;
  int8_t* q;
  float* block_scale;
  float* sum16;  // scale * Σcodes per 16 elements
  float* sum32;  // scale * Σcodes per 32 elements
  int16_t* block_sum;

  int64_t blocks() const { return cols_pad / 32; }
  Q8View token(int64_t t) const {
    return {cols, block_scale + t * blocks(), q + t * cols_pad, block_sum + t * 2 * blocks()};
  }
};

Activations view(const void* buf) {
  auto* h = static_cast<const Header*>(buf);
  auto* base = const_cast<uint8_t*>(static_cast<const uint8_t*>(buf)) + sizeof(Header);
  const int64_t codes = h->n * h->cols_pad, blocks = codes / 32;
  Activations a{h->n, h->cols, h->cols_pad, nullptr, nullptr, nullptr, nullptr, nullptr};
  a.q = reinterpret_cast<int8_t*>(base);
  a.block_scale = reinterpret_cast<float*>(base + codes);
  a.sum16 = a.block_scale + blocks;
  a.sum32 = a.sum16 + 2 * blocks;
  a.block_sum = reinterpret_cast<int16_t*>(a.sum32 + blocks);
  return a;
}

// ----------------------------------------------------------------- activations

K_FN void quantize_token(const float* x, int64_t cols, int64_t cols_pad, int8_t* q, float* block_scale,
                         float* sum16, float* sum32, int16_t* block_sum) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.f, id = d != 0 ? 1.f / d : 0.f;
    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, _mm512_set1_ps(id)));
    const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, _mm512_set1_ps(id)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b), _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b + 16), _mm512_cvtsepi32_epi8(i1));
    const int s0 = _mm512_reduce_add_epi32(i0), s1 = _mm512_reduce_add_epi32(i1);
    block_scale[b] = d;
    sum16[2 * b] = d * float(s0);
    sum16[2 * b + 1] = d * float(s1);
    sum32[b] = d * float(s0 + s1);
    block_sum[2 * b] = int16_t(s0);
    block_sum[2 * b + 1] = int16_t(s1);
  }
  const int64_t b0 = cols / 32, b1 = cols_pad / 32;
  std::memset(q + cols, 0, size_t(cols_pad - cols));
  std::fill(block_scale + b0, block_scale + b1, 0.f);
  std::fill(sum16 + 2 * b0, sum16 + 2 * b1, 0.f);
  std::fill(sum32 + b0, sum32 + b1, 0.f);
  std::fill(block_sum + 2 * b0, block_sum + 2 * b1, int16_t(0));
}

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

K_FN void prepare_all(const float* x, const Activations& a) {
  const int64_t nb = a.blocks();
  for (int64_t t = 0; t < a.n; ++t)
    quantize_token(x + t * a.cols, a.cols, a.cols_pad, a.q + t * a.cols_pad, a.block_scale + t * nb,
                   a.sum16 + t * 2 * nb, a.sum32 + t * nb, a.block_sum + t * 2 * nb);
}

// Formats whose scales and offsets change every 16 elements.
bool has_16_groups(DType t) { return t == DType::Q6_K || t == DType::Q2_K || t == DType::Q3_K; }

K_FN void matmul_rows(DType type, const uint8_t* base, size_t stride, int64_t r0, int64_t r1, const Activations& a,
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

// ---------------------------------------------------------- interleaved rows
// Matrices interleaved at load (interleave.hpp): the codes are read straight
// from the panel, 16 rows per vector, for any token count.

// 32 codes of 16 rows from 4 nibble vectors: c[k] holds codes 4k..4k+3.
K_FN void unpack_nibbles(const uint8_t* src, __m512i c[8]) {
  const __m512i m4 = _mm512_set1_epi8(0xF);
  for (int j = 0; j < 4; ++j) {
    const __m512i z = _mm512_loadu_si512(src + 64 * j);
    c[j] = _mm512_and_si512(z, m4);
    c[j + 4] = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
  }
}

// The same 32 codes with one shift fewer per vector: c[k] for k >= 4 holds
// 16 x the code (the high nibble left in place), for dot_nibbles.
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

#undef K_FN

bool cpu_has_vnni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
         __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
}

}  // namespace

bool vnni_gemm_available() noexcept {
  static const bool on = [] {
    const char* env = std::getenv("ALLM_GGUF_GEMM");
    return cpu_has_vnni() && !(env && std::string(env) == "off");
  }();
  return on;
}

bool vnni_gemm_supports(DType t) noexcept { return decoded_block_elems(stored_type(t)) != 0; }

size_t vnni_prepared_bytes(int64_t n, int64_t cols) {
  const int64_t cp = pad64(cols);
  // codes, then per 32-block: scale, two sum16, sum32 (floats) and two int16 sums
  return sizeof(Header) + size_t(n * cp) + size_t(n * cp / 32) * (4 * 4 + 2 * 2);
}

void vnni_prepare(const float* x, int64_t n, int64_t cols, void* prepared) {
  if (cols % 32 != 0)
    throw InvalidArgumentError("gguf matmul: activation length " + std::to_string(cols) + " is not a multiple of 32");
  auto* h = static_cast<Header*>(prepared);
  *h = Header{n, cols, pad64(cols), {}};
  prepare_all(x, view(prepared));
}

void vnni_matmul(const Tensor& w, int64_t r0, int64_t r1, const void* prepared, float* y, int64_t ldy) {
  const Activations a = view(prepared);
  const int64_t cols = w.cols();
  const int per = decoded_block_elems(stored_type(w.dtype));
  if (cols != a.cols || per == 0 || cols % per != 0)
    throw InvalidArgumentError("tensor '" + w.name + "': gguf matmul of " + std::to_string(cols) + " columns (" +
                               format_name(w.dtype) + ") by activations of length " + std::to_string(a.cols));
  const auto* base = static_cast<const uint8_t*>(w.data);
  if (is_interleaved(w.dtype)) {
    const int64_t blocks = cols / per;
    const size_t panel_bytes = size_t(blocks) * 16 * dtype_block_bytes(w.dtype);
    switch (w.dtype) {
      case DType::Q4_0_X16: interleaved_rows<DType::Q4_0_X16>(base, blocks, panel_bytes, r0, r1, a, y, ldy); break;
      case DType::Q4_K_X16: interleaved_rows<DType::Q4_K_X16>(base, blocks, panel_bytes, r0, r1, a, y, ldy); break;
      case DType::Q8_0_X16: interleaved_rows<DType::Q8_0_X16>(base, blocks, panel_bytes, r0, r1, a, y, ldy); break;
      default: interleaved_rows<DType::Q6_K_X16>(base, blocks, panel_bytes, r0, r1, a, y, ldy); break;
    }
    return;
  }
  const size_t stride = row_bytes(w.dtype, cols);
  if (a.n == 1) {
    // One token: nothing to share a decoded row with, so the row-at-a-time
    // integer kernels (no panel round trip) are faster.
    const Q8View x = a.token(0);
    for (int64_t r = r0; r < r1; ++r) y[r] = dot_row_q8_unchecked(w.dtype, base + size_t(r) * stride, x, cols);
    return;
  }
  Panel& p = thread_panel(a.cols_pad);
  matmul_rows(w.dtype, base, stride, r0, r1, a, p, y, ldy);
}

}  // namespace allm::gguf::detail

#else  // not x86-64: the row-at-a-time kernels serve every CPU

namespace allm::gguf::detail {
bool vnni_gemm_available() noexcept { return false; }
bool vnni_gemm_supports(DType) noexcept { return false; }
size_t vnni_prepared_bytes(int64_t, int64_t) { return 0; }
void vnni_prepare(const float*, int64_t, int64_t, void*) { throw UnsupportedError("gguf matmul: needs x86-64"); }
void vnni_matmul(const Tensor&, int64_t, int64_t, const void*, float*, int64_t) {
  throw UnsupportedError("gguf matmul: needs x86-64");
}
}  // namespace allm::gguf::detail

#endif
