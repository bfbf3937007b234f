// F32, F16 and BF16 weights: dot products read the stored halves directly.
#include "allm/weight_format.hpp"
#include "kernels/kernel_table.hpp"

namespace allm {
namespace {

template <class Elem, float (*kernels::KernelTable::*Dot)(const Elem*, const float*, int64_t)>
void dot_rows_plain(const Tensor& w, int64_t r0, int64_t r1, const float* x, float* y) {
  const auto& k = kernels::active();
  const int64_t cols = w.cols();
  const Elem* base = static_cast<const Elem*>(w.data);
  for (int64_t r = r0; r < r1; ++r) y[r - r0] = (k.*Dot)(base + r * cols, x, cols);
}

void dequant_f32(const Tensor& w, int64_t r0, int64_t r1, float* out) {
  const int64_t cols = w.cols();
  const float* src = static_cast<const float*>(w.data) + r0 * cols;
  for (int64_t i = 0; i < (r1 - r0) * cols; ++i) out[i] = src[i];
}

void dequant_bf16(const Tensor& w, int64_t r0, int64_t r1, float* out) {
  const int64_t cols = w.cols();
  kernels::active().bf16_to_f32(static_cast<const uint16_t*>(w.data) + r0 * cols, out, (r1 - r0) * cols);
}

void dequant_f16(const Tensor& w, int64_t r0, int64_t r1, float* out) {
  const int64_t cols = w.cols();
  kernels::active().f16_to_f32(static_cast<const uint16_t*>(w.data) + r0 * cols, out, (r1 - r0) * cols);
}

const bool registered = [] {
  register_weight_format({DType::F32, dot_rows_plain<float, &kernels::KernelTable::dot_f32>, dequant_f32});
  register_weight_format({DType::BF16, dot_rows_plain<uint16_t, &kernels::KernelTable::dot_bf16>, dequant_bf16});
  register_weight_format({DType::F16, dot_rows_plain<uint16_t, &kernels::KernelTable::dot_f16>, dequant_f16});
  return true;
}();

}  // namespace
}  // namespace allm
