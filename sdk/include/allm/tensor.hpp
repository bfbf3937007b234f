#pragma once
// Tensor views over weights as they are stored (memory-mapped safetensors or
// GGUF data). A view never owns its bytes and is never widened at load time:
// kernels dispatch on `dtype` and compute on the stored format directly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace allm {

enum class DType : uint8_t {
  F32, F16, BF16, I8, U8, I16, I32, U32, I64, F64, BOOL,
  // MLX affine quantization: U32-packed codes, with separate scales/biases.
  MLX_AFFINE,
  // GGUF block formats (ggml's layouts).
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
  // GGUF blocks re-laid out at load with 16 rows interleaved (never in a
  // file; see sdk/src/gguf/interleave.hpp). About the bytes per row of the
  // stored type (per 256 elements: Q4_K 148 instead of 144, Q6_K 274 instead
  // of 210).
  Q4_0_X16, Q4_K_X16, Q6_K_X16, Q8_0_X16,
  // OCP microscaling FP4 as ggml stores it (gpt-oss experts): blocks of 32
  // E2M1 codes sharing one power-of-two (E8M0) scale.
  MXFP4,
};

const char* dtype_name(DType t) noexcept;
// Plain (non-block) element size in bytes; 0 for block/quantized formats.
size_t dtype_size(DType t) noexcept;
// For GGUF block formats: elements per block and bytes per block (1/size otherwise).
size_t dtype_block_elems(DType t) noexcept;
size_t dtype_block_bytes(DType t) noexcept;
// The 16-row interleaved type of a stored GGUF type (Q4_0 -> Q4_0_X16, ...),
// or the type itself when it has none; whether a type is such a layout; the
// stored type an interleaved one came from (any other type: itself).
DType interleaved_type(DType stored) noexcept;
bool is_interleaved(DType t) noexcept;
DType stored_type(DType t) noexcept;

enum class Device : uint8_t { CPU };

// A 2-D (or N-D) view. `shape` is the logical row-major shape as PyTorch sees it,
// e.g. a Linear weight is [out_features, in_features] whatever the storage.
struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
  Device device = Device::CPU;

  // MLX_AFFINE only: w = scale * code + bias per group of `group_size` inputs.
  const void* scales = nullptr;   // [rows, cols/group_size]
  const void* biases = nullptr;   // [rows, cols/group_size]
  DType scale_dtype = DType::BF16;
  int bits = 0;
  int group_size = 0;

  int64_t numel() const noexcept {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  int64_t rows() const noexcept { return shape.empty() ? 0 : (shape.size() == 1 ? 1 : shape[0]); }
  int64_t cols() const noexcept { return shape.empty() ? 0 : shape.back(); }
  bool valid() const noexcept { return data != nullptr; }
};

}  // namespace allm
