// F32, F16 and BF16 weights: dot products read the stored halves directly.
// On CPUs with AMX-BF16, several tokens of F16/BF16 go through the tile
// kernels (gemm_amx.hpp) with the activations converted once per matmul.
#include <vector>

#include "allm/weight_format.hpp"
#include "kernels/gemm_amx.hpp"
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

// Halves: one pass of the multi-row kernel over rows [r0, r1).
template <void (*kernels::KernelTable::*Gemv)(const uint16_t*, int64_t, int64_t, const float*, float*)>
void dot_rows_half(const Tensor& w, int64_t r0, int64_t r1, const float* x, float* y) {
  const int64_t cols = w.cols();
  (kernels::active().*Gemv)(static_cast<const uint16_t*>(w.data) + r0 * cols, r1 - r0, cols, x, y);
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

#if defined(__x86_64__)
// One token (decode) stays on the F32 matrix-vector kernel: it is
// memory-bound, and F32 activations keep decode exact. From two tokens on the
// tiles win (a batch of decodes reads the weights once for all of them).
constexpr int64_t kAmxMinTokens = 2;

size_t amx_prepared_bytes(int64_t n, int64_t cols) {
  return kernels::amx::prepared_bytes(n, cols, n >= kAmxMinTokens);
}

void amx_prepare(const float* x, int64_t n, int64_t cols, void* prepared) {
  kernels::amx::prepare(x, n, cols, n >= kAmxMinTokens, prepared);
}

template <bool F16>
void amx_matmul(const Tensor& w, int64_t r0, int64_t r1, const void* prepared, float* y, int64_t ldy) {
  const auto& p = *static_cast<const kernels::amx::Prepared*>(prepared);
  const auto* base = static_cast<const uint16_t*>(w.data);
  const int64_t cols = w.cols();
  if (p.blocks == 0) {  // too few tokens for tiles
    const auto& k = kernels::active();
    for (int64_t t = 0; t < p.n; ++t)
      (F16 ? k.gemv_f16 : k.gemv_bf16)(base + r0 * cols, r1 - r0, cols, p.src + t * cols, y + t * ldy + r0);
    return;
  }
  thread_local std::vector<uint16_t> scratch;  // the weight panel (gemm_amx.hpp)
  const auto need = static_cast<size_t>(kernels::amx::panel_scratch_halves(cols));
  if (scratch.size() < need) scratch.resize(need);
  if constexpr (F16)
    kernels::amx::matmul_f16(base, r0, r1, p, y, ldy, scratch.data());
  else
    kernels::amx::matmul_bf16(base, r0, r1, p, y, ldy, scratch.data());
}
#endif

WeightFormat half_format(DType dtype, bool f16) {
  WeightFormat f{dtype,
                 f16 ? dot_rows_half<&kernels::KernelTable::gemv_f16> : dot_rows_half<&kernels::KernelTable::gemv_bf16>,
                 f16 ? dequant_f16 : dequant_bf16};
#if defined(__x86_64__)
  if (kernels::amx::usable()) {
    f.prepared_bytes = amx_prepared_bytes;
    f.prepare = amx_prepare;
    f.matmul = f16 ? amx_matmul<true> : amx_matmul<false>;
  }
#endif
  return f;
}

const bool registered = [] {
  register_weight_format({DType::F32, dot_rows_plain<float, &kernels::KernelTable::dot_f32>, dequant_f32});
  register_weight_format(half_format(DType::BF16, false));
  register_weight_format(half_format(DType::F16, true));
  return true;
}();

}  // namespace
}  // namespace allm
