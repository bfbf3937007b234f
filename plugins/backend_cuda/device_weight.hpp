#pragma once
// A weight matrix as the kernels see it on the device (plain C++: included by
// both the .cu kernels and the host-side backend).
#include <cstdint>

namespace allm::cuda {

enum class WFormat : int32_t { f32, f16, bf16, mlx, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, mxfp4 };

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
