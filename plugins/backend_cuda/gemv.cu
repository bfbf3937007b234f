// Decode matmul: y[t][r] = row r of W . x[t] for a few tokens. Memory-bound:
// each warp streams one row once (its lanes take consecutive 32-element
// slices, so neighbouring lanes read neighbouring bytes) and dots every
// token's activations against the decoded slice while it is in registers.
#include "kernels.hpp"
#include "weight_decode.cuh"

namespace allm::cuda {
namespace {

constexpr int kWarps = 8;

template <WFormat F>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(DeviceWeight w, const float* __restrict__ x, int n,
                                                           float* __restrict__ y, int64_t ldy,
                                                           const float* __restrict__ bias) {
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (row >= w.rows) return;
  const int64_t slices = slices_of(w), cols = w.cols;
  const bool vector_x = (cols & 31) == 0;
  float acc[kGemvMaxTokens];
#pragma unroll
  for (int t = 0; t < kGemvMaxTokens; ++t) acc[t] = 0;
  for (int64_t s = lane; s < slices; s += 32) {
    float v[32];
    decode_slice<F>(w, row, s, v);
#pragma unroll
    for (int t = 0; t < kGemvMaxTokens; ++t) {
      if (t >= n) break;
      const float* xs = x + t * cols + s * 32;
      float part = 0;
      if (vector_x) {
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          const float4 q = __ldg(reinterpret_cast<const float4*>(xs) + i);
          part += v[4 * i] * q.x + v[4 * i + 1] * q.y + v[4 * i + 2] * q.z + v[4 * i + 3] * q.w;
        }
      } else {
        for (int i = 0; i < 32 && s * 32 + i < cols; ++i) part += v[i] * xs[i];
      }
      acc[t] += part;
    }
  }
#pragma unroll
  for (int t = 0; t < kGemvMaxTokens; ++t) {
    if (t >= n) break;
    float a = acc[t];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) a += __shfl_xor_sync(0xffffffffu, a, o);
    if (lane == 0) y[t * ldy + row] = a + (bias ? bias[row] : 0.0f);
  }
}

}  // namespace

void gemv(const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy, const float* bias,
          cudaStream_t stream) {
  for (int64_t t0 = 0; t0 < n; t0 += kGemvMaxTokens) {
    const int chunk = int(n - t0 < kGemvMaxTokens ? n - t0 : kGemvMaxTokens);
    const unsigned blocks = unsigned((w.rows + kWarps - 1) / kWarps);
    with_format(w.format, [&](auto f) {
      gemv_kernel<decltype(f)::value><<<blocks, kWarps * 32, 0, stream>>>(w, x + t0 * w.cols, chunk, y + t0 * ldy,
                                                                          ldy, bias);
    });
    check_launch("gemv");
  }
}

void linear(const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy, const float* bias,
            cudaStream_t stream) {
  if (n <= kGemvMaxTokens)
    gemv(w, x, n, y, ldy, bias, stream);
  else
    gemm(w, x, n, y, ldy, bias, stream);
}

}  // namespace allm::cuda
