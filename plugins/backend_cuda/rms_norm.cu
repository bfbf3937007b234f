// RMSNorm: one block per row; the sum of squares reduced across the block.
#include "kernels.hpp"
#include "pdl.cuh"

namespace allm::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void rms_norm_kernel(const float* x, const float* __restrict__ w, int64_t dim, float eps, bool plus_one,
                                float* out) {
  pdl_trigger();
  const float* xr = x + int64_t(blockIdx.x) * dim;
  float* o = out + int64_t(blockIdx.x) * dim;
  float ss = 0;
  for (int64_t j = threadIdx.x; j < dim; j += kThreads) ss += xr[j] * xr[j];
  __shared__ float part[kThreads / 32];
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = ss;
  __syncthreads();
  float total = 0;
#pragma unroll
  for (int i = 0; i < kThreads / 32; ++i) total += part[i];
  const float inv = 1.0f / sqrtf(total / float(dim) + eps);
  // Every thread has read all of its x before any writes (the barrier above), so x may alias out.
  for (int64_t j = threadIdx.x; j < dim; j += kThreads) o[j] = xr[j] * inv * (plus_one ? 1.0f + w[j] : w[j]);
}

}  // namespace

void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bool plus_one, float* out,
              cudaStream_t stream) {
  if (n == 0) return;
  rms_norm_kernel<<<unsigned(n), kThreads, 0, stream>>>(x, w, dim, eps, plus_one, out);
  check_launch("rms_norm");
}

}  // namespace allm::cuda
