// NEON kernels for 64-bit ARM (always present there, so no runtime check).
#if defined(__aarch64__)
#include <arm_neon.h>

#include "kernels/kernel_table.hpp"

namespace allm::kernels {
namespace {

inline float32x4_t load_bf16(const uint16_t* p) {
  return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

float dot_f32(const float* w, const float* x, int64_t n) {
  float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 = vfmaq_f32(a0, vld1q_f32(w + i), vld1q_f32(x + i));
    a1 = vfmaq_f32(a1, vld1q_f32(w + i + 4), vld1q_f32(x + i + 4));
  }
  float acc = vaddvq_f32(vaddq_f32(a0, a1));
  for (; i < n; ++i) acc += w[i] * x[i];
  return acc;
}

float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 = vfmaq_f32(a0, load_bf16(w + i), vld1q_f32(x + i));
    a1 = vfmaq_f32(a1, load_bf16(w + i + 4), vld1q_f32(x + i + 4));
  }
  float acc = vaddvq_f32(vaddq_f32(a0, a1));
  for (; i < n; ++i) acc += bf16_to_float(w[i]) * x[i];
  return acc;
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  float32x4_t a0 = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    a0 = vfmaq_f32(a0, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(w + i))), vld1q_f32(x + i));
  float acc = vaddvq_f32(a0);
  for (; i < n; ++i) acc += f16_to_float(w[i]) * x[i];
  return acc;
}

void bf16_to_f32(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(d + i, load_bf16(s + i));
  for (; i < n; ++i) d[i] = bf16_to_float(s[i]);
}

void gemm_f32(const float* w, int64_t rows, const float* x, int64_t tokens, int64_t k, float* y,
              int64_t ldy) {
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) y[t * ldy + r] = dot_f32(w + r * k, x + t * k, k);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
  for (; i < n; ++i) y[i] += a * x[i];
}

float read_sum(const float* p, int64_t n) {
  float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = vaddq_f32(a0, vld1q_f32(p + i));
    a1 = vaddq_f32(a1, vld1q_f32(p + i + 4));
    a2 = vaddq_f32(a2, vld1q_f32(p + i + 8));
    a3 = vaddq_f32(a3, vld1q_f32(p + i + 12));
  }
  float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
  for (; i < n; ++i) s += p[i];
  return s;
}

}  // namespace

const KernelTable* neon_table() {
  const KernelTable& s = scalar_table();
  static const KernelTable table = {"neon",        dot_f32,      dot_bf16, dot_f16, s.dot_mlx, bf16_to_f32,
                                    s.f16_to_f32, s.mlx_to_f32, gemm_f32, axpy,      read_sum,
                                    gemv_by_rows<dot_bf16>, gemv_by_rows<dot_f16>};
  return &table;
}

}  // namespace allm::kernels
#else
#include "kernels/kernel_table.hpp"
namespace allm::kernels {
const KernelTable* neon_table() { return nullptr; }
}  // namespace allm::kernels
#endif
