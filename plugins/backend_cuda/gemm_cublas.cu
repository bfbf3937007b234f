// Prefill matmul on the tensor cores through cuBLAS: y[t][r] = row r of W .
// x[t] for many tokens. The weights go to cuBLAS as 16-bit matrices: F16 and
// BF16 rows in place, every other stored format (GGUF blocks, split layouts,
// MLX affine, MXFP4) dequantised to F16 first, a tile of rows at a time, into
// a scratch buffer (decode_slice: the same decoder the GEMVs use). The
// activations become 16-bit values too, each token scaled by a power of two
// so that its largest value is below 1 (F16 cannot hold more than 65504, and
// a power of two keeps every mantissa bit); the product is multiplied back
// by that scale, with the bias, after cuBLAS (F32 accumulation) wrote it.
// BF16 and MLX weights take their activations in two parts (value and
// remainder, two products; BF16 parts for BF16, F16 for MLX): the CPU
// multiplies those formats with F32 activations and their fixtures are held
// to that (BF16's 8-bit mantissa, even F16's 11 bits, lose too much); for the
// GGUF block formats one F16 part keeps more than the int8 activations of the
// CPU's (and llama.cpp's) quantised path.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "allm/error.hpp"
#include "kernels.hpp"
#include "weight_decode.cuh"
#include "warp_reduce.cuh"

namespace allm::cuda {
namespace {

constexpr int kThreads = 256;

// One block per token: the power of two above the token's largest |x|, then
// the token's values divided by it as F16 or BF16 (kBf16), and with lo set
// their remainders in a second part.
template <bool kBf16>
__global__ void __launch_bounds__(kThreads) activations_kernel(const float* __restrict__ x, int64_t cols,
                                                               uint16_t* __restrict__ hi, uint16_t* __restrict__ lo,
                                                               float* __restrict__ token_scale) {
  const int64_t t = blockIdx.x;
  const float* row = x + t * cols;
  float m = 0;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) m = fmaxf(m, fabsf(row[c]));
  m = warp_max(m);
  __shared__ float part[kThreads / 32];
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = m;
  __syncthreads();
  m = part[0];
#pragma unroll
  for (int i = 1; i < kThreads / 32; ++i) m = fmaxf(m, part[i]);
  int e = 0;
  frexpf(m, &e);  // m = f * 2^e, f in [0.5, 1)
  const bool usable = m > 0 && isfinite(m);
  const float scale = usable ? ldexpf(1.0f, e) : 1.0f, inv = usable ? ldexpf(1.0f, -e) : 1.0f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float v = row[c] * inv;
    if constexpr (kBf16) {
      const __nv_bfloat16 h = __float2bfloat16_rn(v);
      hi[t * cols + c] = __bfloat16_as_ushort(h);
      if (lo) lo[t * cols + c] = __bfloat16_as_ushort(__float2bfloat16_rn(v - __bfloat162float(h)));
    } else {
      const __half h = __float2half_rn(v);
      hi[t * cols + c] = __half_as_ushort(h);
      if (lo) lo[t * cols + c] = __half_as_ushort(__float2half_rn(v - __half2float(h)));
    }
  }
  if (threadIdx.x == 0) token_scale[t] = scale;
}

// Rows [r0, r0 + rows) of w as F16, row-major [rows][cols]: one thread per slice.
template <WFormat F>
__global__ void __launch_bounds__(kThreads) dequantize_kernel(DeviceWeight w, int64_t r0, int64_t rows,
                                                              __half* __restrict__ out) {
  const int64_t slices = slices_of(w);
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= rows * slices) return;
  const int64_t rr = i / slices, s = i % slices;
  float v[32];
  decode_slice<F>(w, r0 + rr, s, v);
  __half* o = out + rr * w.cols + s * 32;
  if ((w.cols & 31) == 0) {  // 64 bytes, 16-byte aligned
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      uint4 pack;
      uint32_t* words = reinterpret_cast<uint32_t*>(&pack);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const __half2 h = __floats2half2_rn(v[8 * q + 2 * k], v[8 * q + 2 * k + 1]);
        words[k] = *reinterpret_cast<const uint32_t*>(&h);
      }
      reinterpret_cast<uint4*>(o)[q] = pack;
    }
  } else {
#pragma unroll
    for (int k = 0; k < 32; ++k)
      if (s * 32 + k < w.cols) o[k] = __float2half_rn(v[k]);
  }
}

// y[t][r] = y[t][r] * token_scale[t] (+ bias[r]).
__global__ void __launch_bounds__(kThreads) rescale_kernel(float* __restrict__ y, int64_t ldy, int64_t rows, int64_t n,
                                                           const float* __restrict__ token_scale,
                                                           const float* __restrict__ bias) {
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= rows * n) return;
  const int64_t t = i / rows, r = i % rows;
  float& v = y[t * ldy + r];
  v = v * token_scale[t] + (bias ? bias[r] : 0.0f);
}

bool sixteen_bit(const DeviceWeight& w) { return w.format == WFormat::f16 || w.format == WFormat::bf16; }
// Activations in two parts (the header says which formats and why).
bool two_parts(const DeviceWeight& w) { return w.format == WFormat::bf16 || w.format == WFormat::mlx; }

unsigned blocks_for(int64_t threads) { return unsigned((threads + kThreads - 1) / kThreads); }

}  // namespace

bool cublas_gemm_supports(const DeviceWeight& w) { return w.format != WFormat::f32; }

int64_t cublas_gemm_tile_elems(const DeviceWeight& w) {
  if (sixteen_bit(w)) return 0;
  const int64_t rows = std::max<int64_t>(1, std::min(w.rows, kCublasTileElems / std::max<int64_t>(1, w.cols)));
  return rows * w.cols;
}

int64_t cublas_gemm_activation_elems(const DeviceWeight& w, int64_t n) {
  return (two_parts(w) ? 2 : 1) * n * w.cols;
}

void cublas_gemm(const CublasGemm& g, const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy,
                 const float* bias, cudaStream_t stream) {
  if (n <= 0 || w.rows <= 0) return;
  constexpr int64_t kIntMax = 0x7fffffff;
  if (w.rows > kIntMax || w.cols > kIntMax || n > kIntMax || ldy > kIntMax)
    throw InvalidArgumentError("CUDA prefill GEMM: a " + std::to_string(w.rows) + " x " + std::to_string(w.cols) +
                               " matrix times " + std::to_string(n) + " tokens exceeds cuBLAS's 32-bit sizes");
  const bool bf16 = w.format == WFormat::bf16;
  if (g.activation_elems < cublas_gemm_activation_elems(w, n) || g.tokens < n ||
      (!sixteen_bit(w) && g.tile_elems < w.cols))
    throw Error(ErrorCode::internal, "CUDA prefill GEMM: scratch smaller than the product needs");
  uint16_t* hi = g.activations;
  uint16_t* lo = two_parts(w) ? g.activations + n * w.cols : nullptr;
  if (bf16)
    activations_kernel<true><<<unsigned(n), kThreads, 0, stream>>>(x, w.cols, hi, lo, g.token_scale);
  else
    activations_kernel<false><<<unsigned(n), kThreads, 0, stream>>>(x, w.cols, hi, lo, g.token_scale);
  check_launch("gemm activations");
  check_cublas(g.lib->set_stream(g.handle, stream), "cublasSetStream");

  const cudaDataType type = bf16 ? CUDA_R_16BF : CUDA_R_16F;
  const float one = 1.0f, zero = 0.0f;
  // Column-major view: Y^T (rows x n, ld ldy) = W^T^T . X^T, W^T being [cols][rows] with ld cols.
  auto product = [&](const void* a, int64_t lda, int64_t rows, const uint16_t* b, float beta, float* c) {
    check_cublas(g.lib->gemm_ex(g.handle, CUBLAS_OP_T, CUBLAS_OP_N, int(rows), int(n), int(w.cols), &one, a, type,
                                int(lda), b, type, int(w.cols), beta == 0 ? &zero : &one, c, CUDA_R_32F, int(ldy),
                                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
  };
  if (sixteen_bit(w)) {
    const int64_t lda = w.row_bytes / 2;
    product(w.data, lda, w.rows, hi, 0, y);
    if (lo) product(w.data, lda, w.rows, lo, 1, y);
  } else {
    const int64_t tile_rows = std::min(w.rows, g.tile_elems / w.cols);  // as many rows as the scratch holds
    for (int64_t r0 = 0; r0 < w.rows; r0 += tile_rows) {
      const int64_t rows = std::min(tile_rows, w.rows - r0);
      with_format(w.format, [&](auto f) {
        dequantize_kernel<decltype(f)::value>
            <<<blocks_for(rows * slices_of(w)), kThreads, 0, stream>>>(w, r0, rows, reinterpret_cast<__half*>(g.tile));
      });
      check_launch("gemm dequantize");
      product(g.tile, w.cols, rows, hi, 0, y + r0);
      if (lo) product(g.tile, w.cols, rows, lo, 1, y + r0);
    }
  }
  rescale_kernel<<<blocks_for(w.rows * n), kThreads, 0, stream>>>(y, ldy, w.rows, n, g.token_scale, bias);
  check_launch("gemm rescale");
}

}  // namespace allm::cuda
