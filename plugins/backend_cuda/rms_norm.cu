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
#include "warp_reduce.cuh"

namespace allm::cuda {
namespace {

constexpr int kThreads = 256;

// Rows (or a cluster's slices of a row) of up to 1024 * kHeld elements: each
// thread holds its elements in registers between the two passes, loaded
// together (a decode step has one row; a thread walking 16 elements one
// dependent load at a time made a 4096-wide norm take ~20 us). Longer rows:
// rms_norm_loop_kernel. The phases below are shared by the one-block and
// the cluster kernel; element k of a thread is j = threadIdx.x + k * blockDim.x
// of its span [0, len).
constexpr int kHeld = 8;

// The norm's weights of the thread's elements (no kernel writes them: they
// may load before pdl_enter).
__device__ __forceinline__ void load_weights(const float* __restrict__ w, int64_t len, float (&wv)[kHeld]) {
#pragma unroll
  for (int k = 0; k < kHeld; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * blockDim.x;
    wv[k] = j < len ? w[j] : 0.0f;
  }
}
// The thread's elements of x (0 past len), plus the residual's when there is
// one, the sum written back to x; returns their sum of squares.
__device__ __forceinline__ float load_held(float* x, const float* residual, int64_t len, float (&v)[kHeld]) {
#pragma unroll
  for (int k = 0; k < kHeld; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * blockDim.x;
    v[k] = j < len ? x[j] : 0.0f;
  }
  if (residual) {
#pragma unroll
    for (int k = 0; k < kHeld; ++k) {
      const int64_t j = threadIdx.x + int64_t(k) * blockDim.x;
      if (j < len) v[k] += residual[j];
    }
#pragma unroll
    for (int k = 0; k < kHeld; ++k) {
      const int64_t j = threadIdx.x + int64_t(k) * blockDim.x;
      if (j < len) x[j] = v[k];
    }
  }
  float ss = 0;
#pragma unroll
  for (int k = 0; k < kHeld; ++k) ss += v[k] * v[k];
  return ss;
}
// The sum of every thread's ss over the block, in every thread.
__device__ __forceinline__ float block_sum(float ss) {
  __shared__ float part[32];
  ss = warp_sum(ss);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = ss;
  __syncthreads();
  float total = 0;
  for (int i = 0; i < int(blockDim.x) / 32; ++i) total += part[i];
  return total;
}
// out = v * inv * (w or 1 + w), and out's int8 codes when q is set: whole
// warps then (len and blockDim.x multiples of 32), element j's code at
// q[code0 + j], its block's scales at ds[(code0 + j) / 32].
__device__ __forceinline__ void store_normalized(const float (&v)[kHeld], const float (&wv)[kHeld], float inv,
                                                 bool plus_one, int64_t len, float* out, int8_t* q, float2* ds,
                                                 int64_t code0) {
#pragma unroll
  for (int k = 0; k < kHeld; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * blockDim.x;
    if (j >= len) break;
    const float r = v[k] * inv * (plus_one ? 1.0f + wv[k] : wv[k]);
    out[j] = r;
    if (q) quantize_block32(r, int(threadIdx.x & 31), q + code0 + j, ds + (code0 + j) / 32);
  }
}

// residual (optional): x += residual first (written back to x), then the norm of the sum. One block per row.
__global__ void __launch_bounds__(1024) rms_norm_held_kernel(float* x, const float* residual,
                                                              const float* __restrict__ w, int64_t dim, float eps,
                                                              bool plus_one, float* out, int8_t* q, float2* ds) {
  const int64_t start = int64_t(blockIdx.x) * dim;
  float wv[kHeld], v[kHeld];
  load_weights(w, dim, wv);
  pdl_enter();
  const float total = block_sum(load_held(x + start, residual ? residual + start : nullptr, dim, v));
  store_normalized(v, wv, 1.0f / sqrtf(total / float(dim) + eps), plus_one, dim, out + start, q, ds, start);
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
  const int64_t offset = int64_t(cluster.block_rank()) * slice, start = row * dim + offset;
  float wv[kHeld], v[kHeld];
  load_weights(w + offset, slice, wv);
  pdl_enter();
  const float sum = block_sum(load_held(x + start, residual ? residual + start : nullptr, slice, v));
  __shared__ float slice_sum;
  if (threadIdx.x == 0) slice_sum = sum;
  cluster.sync();
  float total = 0;
#pragma unroll
  for (int r = 0; r < kClusterBlocks; ++r) total += *cluster.map_shared_rank(&slice_sum, r);
  store_normalized(v, wv, 1.0f / sqrtf(total / float(dim) + eps), plus_one, slice, out + start, q, ds, start);
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
  ss = warp_sum(ss);
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
