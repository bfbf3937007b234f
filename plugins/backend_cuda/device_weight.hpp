#pragma once
// A weight matrix as the kernels see it on the device (plain C++: included by
// both the .cu kernels and the host-side backend).
#include <cstdint>

namespace allm::cuda {

enum class WFormat : int32_t {
  f32, f16, bf16, mlx, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, mxfp4,
  // The backend's repacked layouts (split_blocks in cuda_backend.cpp): every
  // block's parts of one kind together, so that the int8 GEMV reads them with
  // aligned 16-byte loads (ggml's 34- and 210-byte blocks are only 2-aligned).
  // Q8_0: the row's codes (cols bytes), then its F16 scales. Q6_K: ql of
  // every block (128 bytes each), then qh (64), scales (16), d (2).
  q8_0_split, q6_k_split
};

struct DeviceWeight {
  WFormat format = WFormat::f32;
  int64_t rows = 0, cols = 0;
  const uint8_t* data = nullptr;  // device: row r starts at data + r * row_bytes
  int64_t row_bytes = 0;
  // MLX affine only: w = scale * code + bias per group, [rows][cols / group_size] F32.
  const float* scales = nullptr;
  const float* biases = nullptr;
  int32_t bits = 0, group_size = 0;
};

// Elements of one row that decode_slice produces at a time.
constexpr int64_t kSlice = 32;
#ifdef __CUDACC__
__host__ __device__
#endif
inline int64_t slices_of(const DeviceWeight& w) { return (w.cols + kSlice - 1) / kSlice; }

}  // namespace allm::cuda
