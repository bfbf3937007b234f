#pragma once
// Batched matmul of GGUF block rows by activations quantised once per matmul
// (AVX-512 VNNI). The engine reaches it through WeightFormat's optional
// prepare/matmul pair: the activations of all tokens are converted once, then
// every thread multiplies its share of the rows by all tokens at once, so a
// stored row is decoded once per matmul whatever the token count.
//
// Rows are decoded into a common form — unsigned 8-bit codes u with a scale
// and an offset per group of 16 elements, w = scale * u - offset — so one
// integer kernel (vpdpbusd: u8 x s8) serves every block type; the offsets
// come back as one short float dot product per (row, token) against the
// activations' per-16 sums.
#include <cstddef>
#include <cstdint>

#include "allm/tensor.hpp"

namespace allm::gguf::detail {

// True when the CPU has AVX-512 F/BW/VL + VNNI (and ALLM_GGUF_GEMM is not
// "off", which tests use to compare against the row-at-a-time kernels).
bool vnni_gemm_available() noexcept;

// Bytes `vnni_prepare` writes for n tokens of `cols` floats.
size_t vnni_prepared_bytes(int64_t n, int64_t cols);
// Quantises n tokens (rows of x, `cols` floats each; cols % 32 == 0) to int8
// blocks of 32 with one float scale, as llama.cpp's Q8 activations.
void vnni_prepare(const float* x, int64_t n, int64_t cols, void* prepared);
// y[t * ldy + r] = dot(row r of w, token t) for r in [r0, r1) and every
// prepared token. w is one of the block types of `vnni_gemm_supports`.
void vnni_matmul(const Tensor& w, int64_t r0, int64_t r1, const void* prepared, float* y, int64_t ldy);
bool vnni_gemm_supports(DType t) noexcept;

}  // namespace allm::gguf::detail
