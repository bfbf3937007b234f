#pragma once
// Weight formats: how the engine multiplies by a weight matrix stored in some
// dtype without widening it in memory. Each format is one pair of functions
// registered under its DType — a fused row·vector dot product (decode) and a
// row dequantiser (prefill tiles, embedding lookup, small vectors). Adding a
// format is one pair of functions passed to `register_weight_format`: the
// engine's float formats at start-up, a checkpoint format's own types (GGUF
// blocks, MLX affine) by its loader plugin before its first checkpoint.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "allm/tensor.hpp"

namespace allm {

struct WeightFormat {
  DType dtype;
  // y[i] = dot(row r0+i of w, x) for r0 <= r0+i < r1; x holds w.cols() floats.
  void (*dot_rows)(const Tensor& w, int64_t r0, int64_t r1, const float* x, float* y);
  // out[i*cols + j] = element j of row r0+i of w, for r0 <= r0+i < r1.
  void (*dequant_rows)(const Tensor& w, int64_t r0, int64_t r1, float* out);

  // Optional batched path (null when absent): formats that multiply faster
  // against activations converted once per matmul (GGUF blocks against int8
  // activations). `prepare` converts n tokens of x (`cols` floats each) into
  // `prepared`, at least `prepared_bytes(n, cols)` bytes; `matmul` then sets
  // y[t*ldy + r] = dot(row r of w, token t) for r in [r0, r1) and every token,
  // and may be called from many threads at once on disjoint rows. Formats
  // with the same `prepare` share one prepared buffer.
  size_t (*prepared_bytes)(int64_t n, int64_t cols) = nullptr;
  void (*prepare)(const float* x, int64_t n, int64_t cols, void* prepared) = nullptr;
  void (*matmul)(const Tensor& w, int64_t r0, int64_t r1, const void* prepared, float* y, int64_t ldy) = nullptr;

  // Optional: converts a matrix once at load into a layout of another
  // registered format that multiplies faster (GGUF blocks interleaved by 16
  // rows). Returns false to keep `w` as stored; otherwise sets `out` (same
  // name and shape) to point into `storage`, which the caller keeps alive.
  // Reached through WeightStore::prepared.
  bool (*repack)(const Tensor& w, std::shared_ptr<void>& storage, Tensor& out) = nullptr;
};

// Registers (or replaces) the format for `f.dtype`. Thread-safe.
void register_weight_format(const WeightFormat& f);
// The format for `dtype`, or nullptr when none is registered.
const WeightFormat* find_weight_format(DType dtype);
// As find_weight_format, but throws UnsupportedError naming the tensor.
const WeightFormat& weight_format_of(const Tensor& w);

// A view of rows [r0, r0+n) of a 2-D weight (any dtype, including MLX affine
// and block formats): pointers move, nothing is copied.
Tensor slice_rows(const Tensor& w, int64_t r0, int64_t n);

// Bytes one row occupies (codes plus, for MLX, its scales and biases).
uint64_t row_bytes(const Tensor& w);

}  // namespace allm
