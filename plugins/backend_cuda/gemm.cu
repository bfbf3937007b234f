// Prefill matmul: y[t][r] = row r of W . x[t] over many tokens, in tiles of
// 64 tokens x 64 weight rows. Per 32-wide step of the inner dimension, half
// the block decodes one slice of each of the 64 weight rows into shared memory
// (any stored format, through decode_slice) while the other half copies the
// 64 tokens' activations; then the tile is multiplied on the tensor cores in
// TF32, the activations split in two TF32 parts (F32 weights instead take F32
// FMA: exact, as on the CPU).
#include <mma.h>

#include "kernels.hpp"
#include "weight_decode.cuh"

namespace allm::cuda {
namespace {

constexpr int kTile = 64;        // tokens and weight rows per block
constexpr int kStep = 32;        // inner-dimension step (one slice)
constexpr int kPad = kStep + 4;  // shared row stride: a multiple of 4 floats, off the bank period
constexpr int kThreads = 128;

struct Tiles {
  float x[kTile][kPad];  // [token][k]
  float w[kTile][kPad];  // [weight row][k]
};

// Fills the shared tiles for inner step k0: threads 0..63 decode weight rows,
// 64..127 copy token rows (zeros past the ends).
template <WFormat F>
__device__ __forceinline__ void load_step(Tiles& s, const DeviceWeight& w, const float* x, int64_t n, int64_t r0,
                                          int64_t t0, int64_t k0) {
  const int tid = threadIdx.x;
  float v[32];
  if (tid < kTile) {
    const int64_t r = r0 + tid;
    if (r < w.rows) {
      decode_slice<F>(w, r, k0 / kStep, v);
    } else {
#pragma unroll
      for (int i = 0; i < 32; ++i) v[i] = 0;
    }
#pragma unroll
    for (int i = 0; i < 32; ++i) s.w[tid][i] = v[i];
  } else {
    const int64_t t = t0 + tid - kTile;
    const float* xs = x + t * w.cols + k0;
    if (t < n && k0 + 32 <= w.cols && (w.cols & 3) == 0) {
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float4 q = __ldg(reinterpret_cast<const float4*>(xs) + i);
        s.x[tid - kTile][4 * i] = q.x, s.x[tid - kTile][4 * i + 1] = q.y;
        s.x[tid - kTile][4 * i + 2] = q.z, s.x[tid - kTile][4 * i + 3] = q.w;
      }
    } else {
#pragma unroll
      for (int i = 0; i < 32; ++i) s.x[tid - kTile][i] = t < n && k0 + i < w.cols ? xs[i] : 0.0f;
    }
  }
}

template <WFormat F>
__global__ void __launch_bounds__(kThreads) gemm_tf32_kernel(DeviceWeight w, const float* __restrict__ x, int64_t n,
                                                             float* __restrict__ y, int64_t ldy,
                                                             const float* __restrict__ bias) {
  using namespace nvcuda;
  __shared__ __align__(128) Tiles s;
  __shared__ __align__(128) float out[kTile][kTile + 4];
  const int64_t r0 = int64_t(blockIdx.x) * kTile, t0 = int64_t(blockIdx.y) * kTile;
  const int warp = threadIdx.x >> 5, wm = warp >> 1, wn = warp & 1;  // 2 x 2 warps of 32 x 32
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  for (int64_t k0 = 0; k0 < w.cols; k0 += kStep) {
    load_step<F>(s, w, x, n, r0, t0, k0);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kStep; kk += 8) {
      // Activations as a TF32 pair (big + remainder, two products): F32
      // accuracy on the activation side, so 16-bit weights (exact in TF32)
      // multiply as precisely as on the CPU.
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a[2], a_rest[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        wmma::load_matrix_sync(a[i], &s.x[wm * 32 + i * 16][kk], kPad);
        wmma::load_matrix_sync(b[i], &s.w[wn * 32 + i * 16][kk], kPad);
#pragma unroll
        for (int e = 0; e < a[i].num_elements; ++e) {
          const float v = a[i].x[e], big = wmma::__float_to_tf32(v);
          a[i].x[e] = big;
          a_rest[i].x[e] = wmma::__float_to_tf32(v - big);
        }
#pragma unroll
        for (int e = 0; e < b[i].num_elements; ++e) b[i].x[e] = wmma::__float_to_tf32(b[i].x[e]);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          wmma::mma_sync(acc[i][j], a_rest[i], b[j], acc[i][j]);
          wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&out[wm * 32 + i * 16][wn * 32 + j * 16], acc[i][j], kTile + 4, wmma::mem_row_major);
  __syncthreads();
  for (int e = threadIdx.x; e < kTile * kTile; e += kThreads) {
    const int tt = e / kTile, rr = e % kTile;
    const int64_t t = t0 + tt, r = r0 + rr;
    if (t < n && r < w.rows) y[t * ldy + r] = out[tt][rr] + (bias ? bias[r] : 0.0f);
  }
}

// F32 weights: each thread a 8-token x 4-row block of the tile, F32 FMA.
__global__ void __launch_bounds__(kThreads) gemm_f32_kernel(DeviceWeight w, const float* __restrict__ x, int64_t n,
                                                            float* __restrict__ y, int64_t ldy,
                                                            const float* __restrict__ bias) {
  __shared__ __align__(16) Tiles s;
  const int64_t r0 = int64_t(blockIdx.x) * kTile, t0 = int64_t(blockIdx.y) * kTile;
  const int tr = threadIdx.x & 15, tt = threadIdx.x >> 4;  // rows tr + 16 j, tokens tt + 8 i
  float acc[8][4] = {};
  for (int64_t k0 = 0; k0 < w.cols; k0 += kStep) {
    load_step<WFormat::f32>(s, w, x, n, r0, t0, k0);
    __syncthreads();
#pragma unroll 4
    for (int k = 0; k < kStep; ++k) {
      float a[8], b[4];
#pragma unroll
      for (int i = 0; i < 8; ++i) a[i] = s.x[tt + 8 * i][k];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = s.w[tr + 16 * j][k];
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t t = t0 + tt + 8 * i, r = r0 + tr + 16 * j;
      if (t < n && r < w.rows) y[t * ldy + r] = acc[i][j] + (bias ? bias[r] : 0.0f);
    }
}

}  // namespace

void gemm(const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy, const float* bias,
          cudaStream_t stream) {
  const unsigned row_tiles = unsigned((w.rows + kTile - 1) / kTile);
  for (int64_t t0 = 0; t0 < n; t0 += int64_t(kTile) * 65535) {  // grid.y limit
    const int64_t chunk = n - t0 < int64_t(kTile) * 65535 ? n - t0 : int64_t(kTile) * 65535;
    const dim3 grid(row_tiles, unsigned((chunk + kTile - 1) / kTile));
    if (w.format == WFormat::f32)
      gemm_f32_kernel<<<grid, kThreads, 0, stream>>>(w, x + t0 * w.cols, chunk, y + t0 * ldy, ldy, bias);
    else
      with_format(w.format, [&](auto f) {
        gemm_tf32_kernel<decltype(f)::value>
            <<<grid, kThreads, 0, stream>>>(w, x + t0 * w.cols, chunk, y + t0 * ldy, ldy, bias);
      });
    check_launch("gemm");
  }
}

}  // namespace allm::cuda
