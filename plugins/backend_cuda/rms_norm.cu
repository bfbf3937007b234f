// RMSNorm: one block per row; the sum of squares reduced across the block.
// Optionally the output's int8 codes too (quantize_q8's, for the matmul that
// reads it next): a warp writes 32 consecutive elements, one block of codes.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <cooperative_groups.h>

#include "int8_blocks.cuh"
#include "kernels.hpp"
#include "pdl.cuh"

namespace allm::cuda {
namespace {

constexpr int kThreads = 256;

// residual (optional): x += residual first (written back to x), then the norm of the sum.
// Rows of up to 1024 * kHeld elements: each thread holds its elements in
// registers between the two passes, loaded together (a decode step has one
// row, so one block; a thread walking 16 elements one dependent load at a
// time made a 4096-wide norm take ~20 us). Longer rows: the loop below.
constexpr int kHeld = 8;

__global__ void __launch_bounds__(1024) rms_norm_held_kernel(float* x, const float* residual,
                                                              const float* __restrict__ w, int64_t dim, float eps,
                                                              bool plus_one, float* out, int8_t* q, float2* ds) {
  pdl_enter();
  const int threads = int(blockDim.x);
  float* xr = x + int64_t(blockIdx.x) * dim;
  const float* rr = residual ? residual + int64_t(blockIdx.x) * dim : nullptr;
  float v[kHeld];
  float ss = 0;
#pragma unroll
  for (int k = 0; k < kHeld; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * threads;
    v[k] = j < dim ? xr[j] : 0.0f;
  }
  if (rr) {
#pragma unroll
    for (int k = 0; k < kHeld; ++k) {
      const int64_t j = threadIdx.x + int64_t(k) * threads;
      if (j < dim) xr[j] = v[k] += rr[j];
    }
  }
#pragma unroll
  for (int k = 0; k < kHeld; ++k) ss += v[k] * v[k];
  __shared__ float part[32];
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = ss;
  __syncthreads();
  float total = 0;
  for (int i = 0; i < threads / 32; ++i) total += part[i];
  const float inv = 1.0f / sqrtf(total / float(dim) + eps);
  float* o = out + int64_t(blockIdx.x) * dim;
#pragma unroll
  for (int k = 0; k < kHeld; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * threads;
    if (j >= dim) break;  // whole warps when q is set (dim a multiple of 32, threads too)
    const float r = v[k] * inv * (plus_one ? 1.0f + w[j] : w[j]);
    o[j] = r;
    const int64_t e = int64_t(blockIdx.x) * dim + j;
    if (q) quantize_block32(r, int(threadIdx.x & 31), q + e, ds + e / 32);
  }
}

// A few rows (decode): each row split over a cluster of kClusterBlocks blocks
// on as many SMs. One block per row left a 4096-wide norm on a single SM
// for ~8 us (H100, Nsight Compute), one of the longest kernels of a decode
// step after the matmuls, because every phase (load, block reduction,
// weights, codes) waited on the one before within that SM. A block holds
// its slice of the row (slice / blockDim.x elements a thread, at most
// kHeld), its sum of squares goes to shared memory, and after a cluster
// barrier every block adds the others' sums through distributed shared
// memory; the second barrier keeps each block's sum alive until all have read it.
constexpr int kClusterBlocks = 8;

__global__ void __cluster_dims__(kClusterBlocks, 1, 1) __launch_bounds__(1024)
    rms_norm_cluster_kernel(float* x, const float* residual, const float* __restrict__ w, int64_t dim, float eps,
                            bool plus_one, float* out, int8_t* q, float2* ds) {
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  const int64_t row = blockIdx.x / kClusterBlocks, slice = dim / kClusterBlocks;
  const int64_t start = row * dim + int64_t(cluster.block_rank()) * slice;
  const int threads = int(blockDim.x);
  // The weights first: no kernel writes them, so they may load before the wait.
  float wv[kHeld];
#pragma unroll
  for (int k = 0; k < kHeld; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * threads;
    wv[k] = j < slice ? w[start - row * dim + j] : 0.0f;
  }
  pdl_enter();
  float v[kHeld];
  float ss = 0;
#pragma unroll
  for (int k = 0; k < kHeld; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * threads;
    v[k] = j < slice ? x[start + j] : 0.0f;
  }
  if (residual) {
#pragma unroll
    for (int k = 0; k < kHeld; ++k) {
      const int64_t j = threadIdx.x + int64_t(k) * threads;
      if (j < slice) v[k] += residual[start + j];
    }
#pragma unroll
    for (int k = 0; k < kHeld; ++k) {
      const int64_t j = threadIdx.x + int64_t(k) * threads;
      if (j < slice) x[start + j] = v[k];
    }
  }
#pragma unroll
  for (int k = 0; k < kHeld; ++k) ss += v[k] * v[k];
  __shared__ float part[32];
  __shared__ float block_sum;
  const int lane = int(threadIdx.x & 31), warp = int(threadIdx.x >> 5);
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
  if (lane == 0) part[warp] = ss;
  __syncthreads();
  if (warp == 0) {
    float p = lane < threads / 32 ? part[lane] : 0.0f;
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) p += __shfl_xor_sync(0xffffffffu, p, off);
    if (lane == 0) block_sum = p;
  }
  cluster.sync();
  float total = 0;
#pragma unroll
  for (int r = 0; r < kClusterBlocks; ++r) total += *cluster.map_shared_rank(&block_sum, r);
  const float inv = 1.0f / sqrtf(total / float(dim) + eps);
#pragma unroll
  for (int k = 0; k < kHeld; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * threads;
    if (j >= slice) break;  // whole warps when q is set (slice and threads multiples of 32)
    const float r = v[k] * inv * (plus_one ? 1.0f + wv[k] : wv[k]);
    out[start + j] = r;
    if (q) quantize_block32(r, lane, q + start + j, ds + (start + j) / 32);
  }
  cluster.sync();
}

// ALLM_CUDA_NORM=block: one block per row for every row count (measurements).
bool cluster_norm_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("ALLM_CUDA_NORM");
    return !(v && std::strcmp(v, "block") == 0);
  }();
  return enabled;
}

// residual (optional): x += residual first (written back to x), then the norm of the sum.
__global__ void rms_norm_loop_kernel(float* x, const float* residual, const float* __restrict__ w, int64_t dim, float eps,
                                bool plus_one, float* out, int8_t* q, float2* ds) {
  pdl_enter();
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

void add_rms_norm(float* x, const float* residual, const float* w, int64_t n, int64_t dim, float eps, bool plus_one,
                  float* out, cudaStream_t stream, int8_t* q, float2* ds) {
  if (n == 0) return;
  if (q && dim % 32 != 0) check(cudaErrorInvalidValue, "rms_norm: int8 codes of rows that are not whole blocks of 32");
  // Rows split in slices of whole blocks of 32 over a cluster while the
  // grid stays small (decode and batched decode); else a block per row.
  const int64_t slice = dim / kClusterBlocks;
  if (cluster_norm_enabled() && n <= 32 && dim % (32 * kClusterBlocks) == 0 && slice <= int64_t(1024) * kHeld) {
    const int64_t threads = std::min<int64_t>(1024, slice);
    launch_chained(rms_norm_cluster_kernel, unsigned(n * kClusterBlocks), unsigned(threads), stream, x, residual, w,
                   dim, eps, plus_one, out, q, ds);
  } else if (dim <= int64_t(1024) * kHeld) {
    const int64_t threads = std::min<int64_t>(1024, (dim + 31) / 32 * 32);  // one element per thread up to 1024
    launch_chained(rms_norm_held_kernel, unsigned(n), unsigned(threads), stream, x, residual, w, dim, eps, plus_one, out, q,
                   ds);
  } else {
    launch_chained(rms_norm_loop_kernel, unsigned(n), kThreads, stream, x, residual, w, dim, eps, plus_one, out, q, ds);
  }
  check_launch("rms_norm");
}

void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bool plus_one, float* out,
              cudaStream_t stream, int8_t* q, float2* ds) {
  // x is only written when there is a residual.
  add_rms_norm(const_cast<float*>(x), nullptr, w, n, dim, eps, plus_one, out, stream, q, ds);
}

}  // namespace allm::cuda
