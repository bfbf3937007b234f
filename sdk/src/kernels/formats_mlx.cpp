// MLX affine quantization (2..8 bits, any group size dividing the row): codes
// are unpacked and scaled inside the dot product, w = scale * code + bias.
// Registered by the safetensors loader plugin (checkpoint_loader.hpp).
#include <mutex>
#include <vector>

#include "allm/checkpoint_loader.hpp"
#include "allm/weight_format.hpp"
#include "kernels/kernel_table.hpp"

namespace allm {
namespace {

kernels::MlxRow row_of(const Tensor& w, int64_t r) {
  const int64_t cols = w.cols();
  const int64_t groups = cols / w.group_size;
  const int64_t scale_bytes = w.scale_dtype == DType::F32 ? 4 : 2;
  const int scale_type = w.scale_dtype == DType::F32    ? kernels::kScaleF32
                         : w.scale_dtype == DType::F16 ? kernels::kScaleF16
                                                       : kernels::kScaleBF16;
  return {reinterpret_cast<const uint32_t*>(static_cast<const uint8_t*>(w.data) + r * cols * w.bits / 8),
          static_cast<const uint8_t*>(w.scales) + r * groups * scale_bytes,
          static_cast<const uint8_t*>(w.biases) + r * groups * scale_bytes, scale_type, w.bits, w.group_size};
}

void dot_rows(const Tensor& w, int64_t r0, int64_t r1, const float* x, float* y) {
  const auto& k = kernels::active();
  // Σx per group once for all rows of this call (the bias term is bias * Σx).
  thread_local std::vector<float> xsum;
  const int64_t cols = w.cols(), groups = cols / w.group_size;
  if (static_cast<int64_t>(xsum.size()) < groups) xsum.resize(static_cast<size_t>(groups));
  for (int64_t g = 0; g < groups; ++g) {
    float s = 0;
    for (int64_t j = g * w.group_size; j < (g + 1) * w.group_size; ++j) s += x[j];
    xsum[g] = s;
  }
  for (int64_t r = r0; r < r1; ++r) {
    kernels::MlxRow row = row_of(w, r);
    row.xsum = xsum.data();
    y[r - r0] = k.dot_mlx(row, x, cols);
  }
}

void dequant_rows(const Tensor& w, int64_t r0, int64_t r1, float* out) {
  const auto& k = kernels::active();
  for (int64_t r = r0; r < r1; ++r) k.mlx_to_f32(row_of(w, r), out + (r - r0) * w.cols(), w.cols());
}

}  // namespace

void register_mlx_weight_format() {
  static std::once_flag once;
  std::call_once(once, [] { register_weight_format({DType::MLX_AFFINE, dot_rows, dequant_rows}); });
}

}  // namespace allm
