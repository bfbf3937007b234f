// RMSNorm: one block per row; the sum of squares reduced across the block.
// Optionally the output's int8 codes too (quantize_q8's, for the matmul that
// reads it next): a warp writes 32 consecutive elements, one block of codes.
#include "int8_blocks.cuh"
#include "kernels.hpp"
#include "pdl.cuh"

namespace allm::cuda {
namespace {

constexpr int kThreads = 256;

// residual (optional): x += residual first (written back to x), then the norm of the sum.
__global__ void rms_norm_kernel(float* x, const float* residual, const float* __restrict__ w, int64_t dim, float eps,
                                bool plus_one, float* out, int8_t* q, float2* ds) {
  pdl_trigger();
  float* xr = x + int64_t(blockIdx.x) * dim;
  const float* rr = residual ? residual + int64_t(blockIdx.x) * dim : nullptr;
  float* o = out + int64_t(blockIdx.x) * dim;
  float ss = 0;
  for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
    float v = xr[j];
    if (rr) xr[j] = v += rr[j];  // this thread reads element j again below
    ss += v * v;
  }
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
  for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
    const float v = xr[j] * inv * (plus_one ? 1.0f + w[j] : w[j]);
    o[j] = v;
    // dim is a multiple of 32 when q is set: whole warps, whole blocks.
    const int64_t e = int64_t(blockIdx.x) * dim + j;
    if (q) quantize_block32(v, int(threadIdx.x & 31), q + e, ds + e / 32);
  }
}

}  // namespace

void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bool plus_one, float* out,
              cudaStream_t stream, int8_t* q, float2* ds) {
  if (n == 0) return;
  if (q && dim % 32 != 0) check(cudaErrorInvalidValue, "rms_norm: int8 codes of rows that are not whole blocks of 32");
  // x is only read when there is no residual.
  rms_norm_kernel<<<unsigned(n), kThreads, 0, stream>>>(const_cast<float*>(x), nullptr, w, dim, eps, plus_one, out, q,
                                                         ds);
  check_launch("rms_norm");
}

void add_rms_norm(float* x, const float* residual, const float* w, int64_t n, int64_t dim, float eps, bool plus_one,
                  float* out, cudaStream_t stream, int8_t* q, float2* ds) {
  if (n == 0) return;
  if (q && dim % 32 != 0) check(cudaErrorInvalidValue, "rms_norm: int8 codes of rows that are not whole blocks of 32");
  rms_norm_kernel<<<unsigned(n), kThreads, 0, stream>>>(x, residual, w, dim, eps, plus_one, out, q, ds);
  check_launch("add_rms_norm");
}

}  // namespace allm::cuda
