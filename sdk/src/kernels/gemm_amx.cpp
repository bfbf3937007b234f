// AMX-BF16 kernels of gemm_amx.hpp. This file alone is compiled for AMX; it is
// only entered after amx::usable() (amx_support.cpp) confirmed the CPU and the
// kernel's permission. Like the other ISA files it includes no standard-library
// headers (see kernel_table.hpp).
#if defined(__x86_64__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#endif
// GCC 12 false positives inside avx512fintrin.h (self-initialised "undefined" vectors).
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels/gemm_amx.hpp"

namespace allm::kernels::amx {
namespace {

constexpr int64_t kTileHalves = 512;   // one 1 KiB tile of BF16 values
constexpr int64_t kParts = 3;          // activation tiles per 32 columns: hi, mid, lo
constexpr size_t kHeadBytes = (sizeof(Prepared) + 63) / 64 * 64;  // tiles start on a cache line
constexpr int64_t kPanelBytes = 512 << 10;  // weights kept in L2 across token blocks

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

struct alignas(64) TileConfig {
  uint8_t palette, start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Tiles 0-3: outputs (16 rows x 16 tokens each), 4-5: weights, 6-7:
// activation parts. All 16 rows of 64 bytes.
void configure() {
  TileConfig c = {};
  c.palette = 1;
  for (int i = 0; i < 8; ++i) {
    c.colsb[i] = 64;
    c.rows[i] = 16;
  }
  _tile_loadconfig(&c);
}

// 16 floats rounded to nearest-even BF16, in the low half of each lane.
inline __m512i round_bf16(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  return _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd)), 16);
}
inline __m512 widen(__m512i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)); }
// Two vectors of 16 halves-in-lanes -> 32 consecutive halves.
inline __m512i pack(__m512i a, __m512i b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(a)), _mm512_cvtepi32_epi16(b), 1);
}

// 32 floats -> hi and lo BF16 halves (x = hi + lo to 16 significant bits).
inline void split32(__m512 v0, __m512 v1, __m512i& hi, __m512i& lo) {
  const __m512i h0 = round_bf16(v0), h1 = round_bf16(v1);
  hi = pack(h0, h1);
  lo = pack(round_bf16(_mm512_sub_ps(v0, widen(h0))), round_bf16(_mm512_sub_ps(v1, widen(h1))));
}

// 32 floats -> three BF16 parts, x = hi + mid + lo to 24 significant bits.
inline void split32x3(__m512 v0, __m512 v1, __m512i& hi, __m512i& mid, __m512i& lo) {
  const __m512i h0 = round_bf16(v0), h1 = round_bf16(v1);
  const __m512 r0 = _mm512_sub_ps(v0, widen(h0)), r1 = _mm512_sub_ps(v1, widen(h1));
  const __m512i m0 = round_bf16(r0), m1 = round_bf16(r1);
  hi = pack(h0, h1);
  mid = pack(m0, m1);
  lo = pack(round_bf16(_mm512_sub_ps(r0, widen(m0))), round_bf16(_mm512_sub_ps(r1, widen(m1))));
}

// r[i] holds 16 dwords of row i; stores the transpose (row j = dword j of
// every r[i]) as 16 rows of 64 bytes at dst.
inline void transpose16_store(const __m512i* r, uint16_t* dst) {
  __m512i a[16], b[16];
  for (int k = 0; k < 8; ++k) {
    a[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
    a[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
  }
  for (int k = 0; k < 4; ++k) {
    b[4 * k] = _mm512_unpacklo_epi64(a[4 * k], a[4 * k + 2]);
    b[4 * k + 1] = _mm512_unpackhi_epi64(a[4 * k], a[4 * k + 2]);
    b[4 * k + 2] = _mm512_unpacklo_epi64(a[4 * k + 1], a[4 * k + 3]);
    b[4 * k + 3] = _mm512_unpackhi_epi64(a[4 * k + 1], a[4 * k + 3]);
  }
  // b[4g + c], 128-bit lane L: column 4L + c of rows 4g..4g+3.
  for (int c = 0; c < 4; ++c) {
    const __m512i s0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x88), s1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xdd);
    const __m512i s2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x88);
    const __m512i s3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xdd);
    _mm512_storeu_si512(dst + (0 + c) * 32, _mm512_shuffle_i32x4(s0, s2, 0x88));
    _mm512_storeu_si512(dst + (8 + c) * 32, _mm512_shuffle_i32x4(s0, s2, 0xdd));
    _mm512_storeu_si512(dst + (4 + c) * 32, _mm512_shuffle_i32x4(s1, s3, 0x88));
    _mm512_storeu_si512(dst + (12 + c) * 32, _mm512_shuffle_i32x4(s1, s3, 0xdd));
  }
}

// Σ w[k] x[k] over [k0, k1) in F32 (column tails, rows past the tiles).
template <bool F16>
float dot_range(const uint16_t* w, const float* x, int64_t k0, int64_t k1) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = k0; i < k1; i += 16) {
    const __mmask16 m = k1 - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (k1 - i)) - 1u);
    const __m256i h = _mm256_maskz_loadu_epi16(m, w + i);
    const __m512 wv = F16 ? _mm512_cvtph_ps(h) : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    acc = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, x + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

uint16_t* tiles_of(const Prepared& p) {
  return reinterpret_cast<uint16_t*>(reinterpret_cast<uintptr_t>(&p) + kHeadBytes);
}

// R panels of 16 weight rows (A: ahi/alo; column block kb of a panel at
// kb * akb halves, the second panel apanel halves on, tile rows `stride`
// bytes apart) x T blocks of 16
// tokens (b: the first block's tiles, the next one `bnext` halves on) over kbs
// column blocks. Output tile 2i+j is panel i x block j, stored at
// c + j * 512 + i * 256 (row m, token t at m * 16 + t). Tiles 4-5 hold the
// weights, 6-7 the activation parts in turn; four independent accumulators
// keep the tile unit busy. ALLM_AMX_LOAD puts one activation part of both
// token blocks into tiles 6 and 7, ALLM_AMX_PRODUCTS multiplies them by both
// weight panels: the loads are issued together, ahead of the products.
#define ALLM_AMX_LOAD(OFFSET)            \
  _tile_loadd(6, b0 + (OFFSET), 64);     \
  if (T == 2) _tile_loadd(7, b1 + (OFFSET), 64)
#define ALLM_AMX_PRODUCTS()              \
  _tile_dpbf16ps(0, 4, 6);               \
  if (R == 2) _tile_dpbf16ps(2, 5, 6);   \
  if (T == 2) _tile_dpbf16ps(1, 4, 7);   \
  if (R == 2 && T == 2) _tile_dpbf16ps(3, 5, 7)

template <bool F16, int R, int T>
void tile_kernel(const uint16_t* ahi, const uint16_t* alo, int64_t apanel, int64_t akb, long stride, const uint16_t* b,
                 int64_t bnext, int64_t kbs, float* c) {
  _tile_zero(0);
  if (T == 2) _tile_zero(1);
  if (R == 2) _tile_zero(2);
  if (R == 2 && T == 2) _tile_zero(3);
  for (int64_t kb = 0; kb < kbs; ++kb) {
    const uint16_t* b0 = b + kb * kParts * kTileHalves;
    const uint16_t* b1 = b0 + bnext;
    if (F16) {  // the weights' lo parts times the activations' hi parts first
      _tile_loadd(4, alo + kb * akb, stride);
      if (R == 2) _tile_loadd(5, alo + apanel + kb * akb, stride);
      ALLM_AMX_LOAD(0);
      ALLM_AMX_PRODUCTS();
      _tile_loadd(4, ahi + kb * akb, stride);  // tiles 6 and 7 still hold the hi parts
      if (R == 2) _tile_loadd(5, ahi + apanel + kb * akb, stride);
    } else {
      _tile_loadd(4, ahi + kb * akb, stride);
      if (R == 2) _tile_loadd(5, ahi + apanel + kb * akb, stride);
      ALLM_AMX_LOAD(0);
    }
    ALLM_AMX_PRODUCTS();
    ALLM_AMX_LOAD(kTileHalves);
    ALLM_AMX_PRODUCTS();
    ALLM_AMX_LOAD(2 * kTileHalves);
    ALLM_AMX_PRODUCTS();
  }
  _tile_stored(0, c, 64);
  if (R == 2) _tile_stored(2, c + 256, 64);
  if (T == 2) _tile_stored(1, c + 512, 64);
  if (R == 2 && T == 2) _tile_stored(3, c + 768, 64);
}
#undef ALLM_AMX_LOAD
#undef ALLM_AMX_PRODUCTS

// The output tiles (c[m * 16 + t]: row m, token t; `panels` of 16 rows) into
// y[t * ldy + m], plus the columns past k32 in F32. One column of a tile is
// gathered into a vector and stored whole: scattered scalar stores into rows of
// y a multiple of 4 KiB apart all fall into one L1 set and cost more than
// the tile product itself.
template <bool F16>
void store_tiles(const float* c, int panels, const uint16_t* w, int64_t cols, int64_t k32, const float* x, int64_t nt,
                 float* y, int64_t ldy) {
  const __m512i column = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240);
  for (int64_t t = 0; t < nt; ++t)
    for (int p = 0; p < panels; ++p) {
      __m512 v = _mm512_i32gather_ps(column, c + p * 256 + t, 4);
      if (k32 < cols) {
        alignas(64) float tail[16];
        for (int m = 0; m < 16; ++m) tail[m] = dot_range<F16>(w + (p * 16 + m) * cols, x + t * cols, k32, cols);
        v = _mm512_add_ps(v, _mm512_load_ps(tail));
      }
      _mm512_storeu_ps(y + t * ldy + p * 16, v);
    }
}

// Rows per chunk whose weights (as the tiles read them) stay in L2 while
// every token block passes over them.
int64_t chunk_rows(int64_t bytes_per_row) { return imax(32, imin(256, kPanelBytes / bytes_per_row / 32 * 32)); }

// Weight rows [0, rows) (rows a multiple of 16) over the first k32 columns
// into tiles: 16-row panel p, column block kb at (p * kbs + kb) * 512 halves,
// each tile 16 rows of 32 halves back to back, so one tile load reads 1 KiB
// of consecutive lines. F16 rows are split exactly into BF16 hi and lo tiles.
template <bool F16>
void pack_rows(const uint16_t* w, int64_t cols, int64_t rows, int64_t k32, uint16_t* hi, uint16_t* lo) {
  const int64_t kbs = k32 / 32;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t kb = 0; kb < kbs; ++kb) {
      const uint16_t* src = w + r * cols + kb * 32;
      const int64_t at = ((r / 16) * kbs + kb) * kTileHalves + (r % 16) * 32;
      if (F16) {
        __m512i h, l;
        split32(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src))),
                _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 16))), h, l);
        _mm512_storeu_si512(hi + at, h);
        _mm512_storeu_si512(lo + at, l);
      } else {
        _mm512_storeu_si512(hi + at, _mm512_loadu_si512(src));
      }
    }
}

template <bool F16>
void matmul(const uint16_t* w, int64_t r0, int64_t r1, const Prepared& p, float* y, int64_t ldy, uint16_t* scratch) {
  const int64_t cols = p.cols, k32 = p.k32, kbs = k32 / 32;
  const int64_t tiled_end = r0 + (r1 - r0) / 16 * 16;
  const float* x = p.src;
  if (kbs > 0 && tiled_end > r0 && p.blocks > 0) {
    const uint16_t* tiles = tiles_of(p);
    const int64_t chunk = chunk_rows(k32 * (F16 ? 4 : 2));  // as panel_scratch_halves
    alignas(64) float c[1024];
    configure();
    for (int64_t c0 = r0; c0 < tiled_end; c0 += chunk) {
      const int64_t c1 = imin(tiled_end, c0 + chunk);
      uint16_t* hi = scratch;
      uint16_t* lo = F16 ? scratch + chunk * k32 : nullptr;
      pack_rows<F16>(w + c0 * cols, cols, c1 - c0, k32, hi, lo);
      const int64_t apanel = kbs * kTileHalves;
      const int64_t bnext = kbs * kParts * kTileHalves;
      for (int64_t b = 0; b < p.blocks; b += 2) {
        const uint16_t* bt = tiles + b * bnext;
        const int64_t t0 = b * 16, nt0 = imin(16, p.n - t0), nt1 = imin(16, p.n - t0 - 16);
        const bool two_blocks = b + 1 < p.blocks;
        for (int64_t row = c0; row < c1; row += 32) {
          const bool two = row + 32 <= c1;
          const uint16_t* a = hi + (row - c0) / 16 * apanel;
          const uint16_t* al = F16 ? lo + (row - c0) / 16 * apanel : nullptr;
          for (int64_t t = 0; t < nt0 + (two_blocks ? nt1 : 0); ++t) {
            _mm_prefetch(reinterpret_cast<const char*>(y + (t0 + t) * ldy + row), _MM_HINT_T0);
            if (two) _mm_prefetch(reinterpret_cast<const char*>(y + (t0 + t) * ldy + row + 16), _MM_HINT_T0);
          }
          if (two && two_blocks)
            tile_kernel<F16, 2, 2>(a, al, apanel, kTileHalves, 64, bt, bnext, kbs, c);
          else if (two)
            tile_kernel<F16, 2, 1>(a, al, apanel, kTileHalves, 64, bt, bnext, kbs, c);
          else if (two_blocks)
            tile_kernel<F16, 1, 2>(a, al, apanel, kTileHalves, 64, bt, bnext, kbs, c);
          else
            tile_kernel<F16, 1, 1>(a, al, apanel, kTileHalves, 64, bt, bnext, kbs, c);
          const int panels = two ? 2 : 1;
          store_tiles<F16>(c, panels, w + row * cols, cols, k32, x + t0 * cols, nt0, y + t0 * ldy + row, ldy);
          if (two_blocks)
            store_tiles<F16>(c + 512, panels, w + row * cols, cols, k32, x + (t0 + 16) * cols, nt1,
                             y + (t0 + 16) * ldy + row, ldy);
        }
      }
    }
    _tile_release();
  } else {
    for (int64_t r = r0; r < tiled_end; ++r)
      for (int64_t t = 0; t < p.n; ++t) y[t * ldy + r] = dot_range<F16>(w + r * cols, x + t * cols, 0, cols);
  }
  for (int64_t r = tiled_end; r < r1; ++r)
    for (int64_t t = 0; t < p.n; ++t) y[t * ldy + r] = dot_range<F16>(w + r * cols, x + t * cols, 0, cols);
}

}  // namespace

size_t prepared_bytes(int64_t n, int64_t cols, bool tiles) {
  if (!tiles) return kHeadBytes;
  return size_t(kHeadBytes + uint64_t((n + 15) / 16) * uint64_t(cols / 32) * kParts * kTileHalves * 2);
}

void prepare(const float* x, int64_t n, int64_t cols, bool tiles, void* out) {
  auto* p = static_cast<Prepared*>(out);
  p->n = n;
  p->cols = cols;
  p->k32 = cols / 32 * 32;
  p->blocks = tiles ? (n + 15) / 16 : 0;
  p->src = x;
  if (!tiles) return;
  const int64_t kbs = p->k32 / 32;
  uint16_t* t = tiles_of(*p);
  // For 16 tokens x 32 columns: each token's 16 column pairs (one dword each)
  // per part, then a 16x16 dword transpose puts pair j of every token in tile
  // row j. Tokens past n are zeros.
  alignas(64) __m512i part[kParts][16];
  for (int64_t b = 0; b < p->blocks; ++b)
    for (int64_t kb = 0; kb < kbs; ++kb) {
      for (int64_t i = 0; i < 16; ++i) {
        const int64_t tok = b * 16 + i;
        if (tok < n) {
          const float* xr = x + tok * cols + kb * 32;
          split32x3(_mm512_loadu_ps(xr), _mm512_loadu_ps(xr + 16), part[0][i], part[1][i], part[2][i]);
        } else {
          part[0][i] = part[1][i] = part[2][i] = _mm512_setzero_si512();
        }
      }
      uint16_t* dst = t + (b * kbs + kb) * kParts * kTileHalves;
      for (int q = 0; q < kParts; ++q) transpose16_store(part[q], dst + q * kTileHalves);
    }
}

int64_t panel_scratch_halves(int64_t cols) {
  const int64_t k32 = cols / 32 * 32;
  // F16: hi and lo tiles of chunk_rows(4 bytes a column) rows; BF16: one copy
  // of chunk_rows(2 bytes a column) rows, which can be the larger (rounding).
  return k32 == 0 ? 0 : imax(chunk_rows(k32 * 4) * k32 * 2, chunk_rows(k32 * 2) * k32);
}

void matmul_bf16(const uint16_t* w, int64_t r0, int64_t r1, const Prepared& p, float* y, int64_t ldy, uint16_t* scratch) {
  matmul<false>(w, r0, r1, p, y, ldy, scratch);
}

void matmul_f16(const uint16_t* w, int64_t r0, int64_t r1, const Prepared& p, float* y, int64_t ldy,
                uint16_t* scratch) {
  matmul<true>(w, r0, r1, p, y, ldy, scratch);
}

}  // namespace allm::kernels::amx
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
