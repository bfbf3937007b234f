// Decode matmul: y[t][r] = row r of W . x[t] for a few tokens. Memory-bound:
// each warp streams two rows once (its lanes take consecutive 32-element
// slices, so neighbouring lanes read neighbouring bytes) and dots every
// token's activations against the decoded slices while they are in registers.
#include "kernels.hpp"
#include "pdl.cuh"
#include "weight_decode.cuh"
#include "warp_reduce.cuh"

namespace allm::cuda {
namespace {

constexpr int kWarps = 8;
// Rows per warp (1 or 2): two rows share each activation load and put twice
// the weight bytes in flight per warp, at twice the registers (half the warps).
int rows_per_warp = 2;

template <WFormat F, int kRowsPerWarp>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(DeviceWeight w, const float* __restrict__ x, int n,
                                                           float* __restrict__ y, int64_t ldy,
                                                           const float* __restrict__ bias) {
  pdl_trigger();
  const int lane = threadIdx.x & 31;
  const int64_t row0 = (int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5)) * kRowsPerWarp;
  if (row0 >= w.rows) return;
  const int64_t slices = slices_of(w), cols = w.cols;
  const bool vector_x = (cols & 31) == 0;
  // A row past the end repeats the last row (same loads, result not written).
  int64_t rows[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) rows[r] = row0 + r < w.rows ? row0 + r : w.rows - 1;
  float acc[kRowsPerWarp][kGemvMaxTokens];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int t = 0; t < kGemvMaxTokens; ++t) acc[r][t] = 0;
  for (int64_t s = lane; s < slices; s += 32) {
    float v[kRowsPerWarp][32];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) decode_slice<F>(w, rows[r], s, v[r]);
#pragma unroll
    for (int t = 0; t < kGemvMaxTokens; ++t) {
      if (t >= n) break;
      const float* xs = x + t * cols + s * 32;
      float part[kRowsPerWarp] = {};
      if (vector_x) {
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          const float4 q = __ldg(reinterpret_cast<const float4*>(xs) + i);
#pragma unroll
          for (int r = 0; r < kRowsPerWarp; ++r)
            part[r] += v[r][4 * i] * q.x + v[r][4 * i + 1] * q.y + v[r][4 * i + 2] * q.z + v[r][4 * i + 3] * q.w;
        }
      } else {
        for (int i = 0; i < 32 && s * 32 + i < cols; ++i)
#pragma unroll
          for (int r = 0; r < kRowsPerWarp; ++r) part[r] += v[r][i] * xs[i];
      }
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) acc[r][t] += part[r];
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    if (row0 + r >= w.rows) break;
#pragma unroll
    for (int t = 0; t < kGemvMaxTokens; ++t) {
      if (t >= n) break;
      const float a = warp_sum(acc[r][t]);
      if (lane == 0) y[t * ldy + row0 + r] = a + (bias ? bias[row0 + r] : 0.0f);
    }
  }
}

}  // namespace

void gemv(const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy, const float* bias,
          cudaStream_t stream) {
  for (int64_t t0 = 0; t0 < n; t0 += kGemvMaxTokens) {
    const int chunk = int(n - t0 < kGemvMaxTokens ? n - t0 : kGemvMaxTokens);
    const int64_t per_block = int64_t(kWarps) * rows_per_warp;
    const unsigned blocks = unsigned((w.rows + per_block - 1) / per_block);
    with_format(w.format, [&](auto f) {
      constexpr WFormat F = decltype(f)::value;
      if (rows_per_warp == 1)
        gemv_kernel<F, 1><<<blocks, kWarps * 32, 0, stream>>>(w, x + t0 * w.cols, chunk, y + t0 * ldy, ldy, bias);
      else
        gemv_kernel<F, 2><<<blocks, kWarps * 32, 0, stream>>>(w, x + t0 * w.cols, chunk, y + t0 * ldy, ldy, bias);
    });
    check_launch("gemv");
  }
}

void set_gemv_rows_per_warp(int rows) { rows_per_warp = rows == 1 ? 1 : 2; }

void linear(const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy, const float* bias,
            cudaStream_t stream) {
  if (n <= kGemvMaxTokens)
    gemv(w, x, n, y, ldy, bias, stream);
  else
    gemm(w, x, n, y, ldy, bias, stream);
}

}  // namespace allm::cuda
