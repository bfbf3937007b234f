// Portable kernels: the reference every SIMD table is tested against, and the
// fallback for MLX bit widths the SIMD tables do not specialise.
#include "kernels/kernel_table.hpp"

namespace allm::kernels {
namespace {

float dot_f32(const float* w, const float* x, int64_t n) {
  float acc[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) acc[j] += w[i + j] * x[i + j];
  for (; i < n; ++i) acc[0] += w[i] * x[i];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  float acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += bf16_to_float(w[i]) * x[i];
  return acc;
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  float acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += f16_to_float(w[i]) * x[i];
  return acc;
}

float dot_mlx(const MlxRow& r, const float* x, int64_t n) {
  float total = 0;
  for (int64_t g0 = 0, g = 0; g0 < n; g0 += r.group_size, ++g) {
    float cx = 0, sx = 0;
    for (int64_t j = g0; j < g0 + r.group_size && j < n; ++j) {
      cx += static_cast<float>(mlx_code(r.codes, r.bits, j)) * x[j];
      sx += x[j];
    }
    total += load_scale(r.scales, r.scale_type, g) * cx + load_scale(r.biases, r.scale_type, g) * sx;
  }
  return total;
}

void bf16_to_f32(const uint16_t* s, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = bf16_to_float(s[i]);
}

void f16_to_f32(const uint16_t* s, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = f16_to_float(s[i]);
}

void mlx_to_f32(const MlxRow& r, float* d, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const int64_t g = j / r.group_size;
    d[j] = load_scale(r.scales, r.scale_type, g) * static_cast<float>(mlx_code(r.codes, r.bits, j)) +
           load_scale(r.biases, r.scale_type, g);
  }
}

void gemm_f32(const float* w, int64_t rows, const float* x, int64_t tokens, int64_t k, float* y,
              int64_t ldy) {
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) y[t * ldy + r] = dot_f32(w + r * k, x + t * k, k);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

float read_sum(const float* p, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += p[i + j];
  for (; i < n; ++i) acc[0] += p[i];
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

}  // namespace

const KernelTable& scalar_table() {
  static const KernelTable table = {"scalar",   dot_f32,    dot_bf16, dot_f16, dot_mlx, bf16_to_f32,
                                    f16_to_f32, mlx_to_f32, gemm_f32, axpy,    read_sum,
                                    gemv_by_rows<dot_bf16>, gemv_by_rows<dot_f16>};
  return table;
}

}  // namespace allm::kernels
