#pragma once
// Shared by the AVX-512 VNNI matmul files (gemm.hpp is the interface): the
// prepared-activation layout and the two row kernels. x86-64 only; every
// function using AVX-512 carries its own target attribute (K_FN), so no file
// needs a -march flag.
#include <cstddef>
#include <cstdint>

#include "allm/tensor.hpp"
#include "gguf/dot_q8_x86.hpp"

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics pass `_mm512_undefined_*()` values through and
// then trip -Wmaybe-uninitialized in the header itself (GCC PR 105593, fixed
// in GCC 13); the values are never read. Under other optimisation levels
// (the ThreadSanitizer build) the same values trip -Wuninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#define K_FN __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni"))) static inline

namespace allm::gguf::detail::vnni_gemm {

constexpr int kPanelRows = 16;  // rows decoded together: one vpdpbusd lane per row
constexpr int kTileTokens = 8;  // tokens multiplied against one panel at a time

inline int64_t pad64(int64_t cols) { return (cols + 63) / 64 * 64; }

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

inline Activations view(const void* buf) {
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

// Rows [r0, r1) of a matrix in its file layout (row `stride` bytes apart) times
// every prepared token: 16 rows at a time decoded into the interleaved form,
// then the same tile kernel as interleaved matrices (gemm_stored.cpp).
void matmul_stored(DType type, const uint8_t* base, size_t stride, int64_t r0, int64_t r1, const Activations& a,
                   float* y, int64_t ldy);
// Rows [r0, r1) of a matrix interleaved at load (interleave.hpp) times every
// prepared token (gemm_interleaved.cpp).
void matmul_interleaved(DType type, const uint8_t* base, int64_t blocks, size_t panel_bytes, int64_t r0, int64_t r1,
                        const Activations& a, float* y, int64_t ldy);

}  // namespace allm::gguf::detail::vnni_gemm

#endif
