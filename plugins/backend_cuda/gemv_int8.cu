// Decode matmul with int8 dot products (llama.cpp's approach): the
// activations are quantised once per call to int8 blocks of 32 (scale d and
// d * sum of codes, as llama.cpp's Q8_1), and the quantised weight blocks are
// multiplied as integers with dp4a, four products per instruction. One warp
// per weight row; its lanes take consecutive pieces of the row ("units") with
// aligned 16-byte loads, so every load instruction of a warp reads whole
// cache lines and the matrix streams through once. Q4_K is read in ggml's
// layout (144-byte blocks are 16-byte aligned); Q8_0 and Q6_K in the
// backend's split layouts (device_weight.hpp).
#include <cstdint>
#include <cstdlib>
#include <type_traits>

#include "int8_blocks.cuh"
#include "pdl.cuh"
#include "kernels.hpp"
#include "weight_decode.cuh"
#include "warp_reduce.cuh"

namespace allm::cuda {
namespace {

constexpr int kWarps = 4;

__global__ void quantize_q8_kernel(const float* __restrict__ x, int64_t blocks, int8_t* __restrict__ q,
                                   float2* __restrict__ ds) {
  pdl_enter();
  const int64_t b = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (b >= blocks) return;
  const int lane = threadIdx.x & 31;
  quantize_block32(x[b * 32 + lane], lane, q + b * 32 + lane, ds + b);
}

__device__ __forceinline__ int dot16(uint4 w, uint4 x, int acc) {
  acc = __dp4a(int(w.x), int(x.x), acc);
  acc = __dp4a(int(w.y), int(x.y), acc);
  acc = __dp4a(int(w.z), int(x.z), acc);
  return __dp4a(int(w.w), int(x.w), acc);
}

// Units per row and the dot of unit u of `row` with token t's quantised
// activations (qx: that token's codes, ds: its block scales and sums).
// load() issues the unit's loads, prepare() turns the bytes into codes and
// scales once (after the loads arrive), dot() is the per-token work.
template <WFormat F>
struct Int8Dot;

// Q4_K: a unit is 64 elements of a block (4 units per block): 32 bytes of
// codes, low nibbles sub-block 2p, high nibbles 2p+1, and the block's header.
template <>
struct Int8Dot<WFormat::q4_k> {
  static constexpr int kPerBlock = 4;
  uint4 head, lo, hi;
  float ds0, ds1, dm0, dm1;  // d * scale and dmin * min of the two sub-blocks
  __device__ void load(const DeviceWeight& w, int64_t row, int64_t u) {
    const uint8_t* b = w.data + row * w.row_bytes + (u >> 2) * 144;
    const int p = int(u & 3);
    head = load16(b);
    lo = load16(b + 16 + 32 * p);
    hi = load16(b + 32 + 32 * p);
  }
  __device__ void prepare(int64_t u) {
    const int p = int(u & 3);
    const float d = q4k_d(head), dmin = q4k_dmin(head);
    int sc0, m0, sc1, m1;
    q4k_scale_min(head, 2 * p, sc0, m0);
    q4k_scale_min(head, 2 * p + 1, sc1, m1);
    ds0 = d * float(sc0), ds1 = d * float(sc1), dm0 = dmin * float(m0), dm1 = dmin * float(m1);
  }
  __device__ float dot(int64_t u, const int8_t* qx, const float2* ds) const {
    const int64_t e = (u >> 2) * 256 + 64 * (u & 3);  // first element
    const uint4 x0 = load16(qx + e), x1 = load16(qx + e + 16), x2 = load16(qx + e + 32), x3 = load16(qx + e + 48);
    const int s_lo = dot16(nibbles(hi, 0), x1, dot16(nibbles(lo, 0), x0, 0));
    const int s_hi = dot16(nibbles(hi, 4), x3, dot16(nibbles(lo, 4), x2, 0));
    const float2 a = ds[e >> 5], b = ds[(e >> 5) + 1];
    return ds0 * float(s_lo) * a.x + ds1 * float(s_hi) * b.x - (dm0 * a.y + dm1 * b.y);
  }
};

// Q8_0 (split rows): a unit is one block of 32: its codes and its scale.
template <>
struct Int8Dot<WFormat::q8_0_split> {
  static constexpr int kPerBlock = 8;  // per 256 elements
  uint4 q0, q1;
  float d;
  __device__ void load(const DeviceWeight& w, int64_t row, int64_t u) {
    const uint8_t* r = w.data + row * w.row_bytes;
    q0 = load16(r + 32 * u);
    q1 = load16(r + 32 * u + 16);
    d = __half2float(__ldg(reinterpret_cast<const __half*>(r + w.cols) + u));
  }
  __device__ void prepare(int64_t) {}
  __device__ float dot(int64_t u, const int8_t* qx, const float2* ds) const {
    const int s = dot16(q1, load16(qx + 32 * u + 16), dot16(q0, load16(qx + 32 * u), 0));
    return d * ds[u].x * float(s);
  }
};

// Q6_K (split rows): a unit is 64 elements of a block (4 per block): half h,
// columns l in [16v, 16v + 16) of each of its four 32-element quarters.
template <>
struct Int8Dot<WFormat::q6_k_split> {
  static constexpr int kPerBlock = 4;
  uint4 ql0, ql1, qh;
  uint32_t sc;  // the four scales of the unit
  float d;
  uint4 code[4];  // prepared: quarter k's codes as signed bytes
  float scale[4];  // d * scale of quarter k
  __device__ void load(const DeviceWeight& w, int64_t row, int64_t u) {
    const uint8_t* r = w.data + row * w.row_bytes;
    const int64_t blk = u >> 2, nb = w.cols / 256;
    const int h = int(u >> 1) & 1, v = int(u & 1);
    ql0 = load16(r + 128 * blk + 64 * h + 16 * v);
    ql1 = load16(r + 128 * blk + 64 * h + 32 + 16 * v);
    qh = load16(r + 128 * nb + 64 * blk + 32 * h + 16 * v);
    const uint2 s8 = __ldg(reinterpret_cast<const uint2*>(r + 192 * nb + 16 * blk + 8 * h));
    // scales 8h + v + {0, 2, 4, 6}: bytes v, v+2 of the first word and of the second
    sc = __byte_perm(s8.x, s8.y, 0x6420 + 0x1111 * v);
    d = __half2float(__ldg(reinterpret_cast<const __half*>(r + 208 * nb) + blk));
  }
  __device__ void prepare(int64_t) {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint4 l = (k & 1) ? ql1 : ql0;
      code[k] = make_uint4(q6k_codes(l.x, qh.x, k), q6k_codes(l.y, qh.y, k), q6k_codes(l.z, qh.z, k),
                           q6k_codes(l.w, qh.w, k));
      scale[k] = d * float(int(int8_t(sc >> (8 * k))));
    }
  }
  __device__ float dot(int64_t u, const int8_t* qx, const float2* ds) const {
    const int64_t e0 = (u >> 2) * 256 + 128 * ((u >> 1) & 1) + 16 * (u & 1);
    float sum = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int64_t e = e0 + 32 * k;
      sum += scale[k] * float(dot16(code[k], load16(qx + e), 0)) * ds[e >> 5].x;
    }
    return sum;
  }
};

// kUnroll units of a lane's row loaded before any is used (bytes in flight);
// kTokens: 1 (decode of one sequence: fewer registers, more warps) or up to
// kGemvMaxTokens.
// The matrices of one launch (gemv_*_jobs): their rows one after another.
struct JobTable {
  GemvJob job[kMaxGemvJobs];
  int64_t first_row[kMaxGemvJobs + 1];
  int count;
};

// The job global row g falls in and the row within it (static indexing of
// the table, so that it stays in parameter space).
struct RowOf {
  DeviceWeight w;
  float* y;
  int64_t ldy, row;
  const float* bias;
};
__device__ __forceinline__ RowOf row_of(const JobTable& t, int64_t g) {
  RowOf r{t.job[0].w, t.job[0].y, t.job[0].ldy, g, t.job[0].bias};
#pragma unroll
  for (int k = 1; k < kMaxGemvJobs; ++k)
    if (k < t.count && g >= t.first_row[k])
      r = RowOf{t.job[k].w, t.job[k].y, t.job[k].ldy, g - t.first_row[k], t.job[k].bias};
  return r;
}
// The calling warp's row of the launch; false past the last job's rows.
__device__ __forceinline__ bool warp_row(const JobTable& t, RowOf& at) {
  const int64_t g = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (g >= t.first_row[t.count]) return false;
  at = row_of(t, g);
  return true;
}

// Each of the n tokens' lane partials summed over the warp, written to the
// row's place in that token's output (+ the bias).
template <int kTokens>
__device__ __forceinline__ void store_row(const RowOf& at, const float (&acc)[kTokens], int n, int lane) {
#pragma unroll
  for (int t = 0; t < kTokens; ++t) {
    if (t >= n) break;
    const float a = warp_sum(acc[t]);
    if (lane == 0) at.y[t * at.ldy + at.row] = a + (at.bias ? at.bias[at.row] : 0.0f);
  }
}

template <WFormat F, int kUnroll, int kTokens>
__global__ void __launch_bounds__(kWarps * 32) gemv_int8_kernel(JobTable jobs, const int8_t* __restrict__ qx,
                                                                 const float2* __restrict__ ds, int n) {
  pdl_trigger();
  const int lane = threadIdx.x & 31;
  RowOf at;
  if (!warp_row(jobs, at)) return;
  const DeviceWeight& w = at.w;
  const int64_t row = at.row;
  const int64_t nu = w.cols / (256 / Int8Dot<F>::kPerBlock);  // units of the row
  float acc[kTokens];
#pragma unroll
  for (int t = 0; t < kTokens; ++t) acc[t] = 0;
  bool waited = false;
  for (int64_t u0 = lane; u0 < nu; u0 += 32 * kUnroll) {
    Int8Dot<F> part[kUnroll];
#pragma unroll
    for (int i = 0; i < kUnroll; ++i)
      if (u0 + 32 * i < nu) part[i].load(w, row, u0 + 32 * i);
    if (!waited) pdl_wait();  // the first weights are on their way: now the activations
    waited = true;
#pragma unroll
    for (int i = 0; i < kUnroll; ++i) {
      if (u0 + 32 * i >= nu) break;
      part[i].prepare(u0 + 32 * i);
#pragma unroll
      for (int t = 0; t < kTokens; ++t) {
        if (t >= n) break;
        acc[t] += part[i].dot(u0 + 32 * i, qx + t * w.cols, ds + t * (w.cols / 32));
      }
    }
  }
  if (!waited) pdl_wait();
  store_row(at, acc, n, lane);
}

// F16 / BF16 rows with F32 activations: a unit is 8 elements (one 16-byte
// load). A lane's share of the dot of row `r` (nu units) with n tokens'
// activations x ([n][cols]): units first, first + stride, ..., kUnroll of
// them loaded before the first is used. Waits for the kernels before
// (pdl_wait) once its first weights are on their way.
template <bool kHalf, int kUnroll, int kTokens>
__device__ __forceinline__ void wide_row_share(const uint8_t* __restrict__ r, int64_t nu, int64_t cols, int64_t first,
                                               int stride, const float* __restrict__ x, int n, float (&acc)[kTokens]) {
#pragma unroll
  for (int t = 0; t < kTokens; ++t) acc[t] = 0;
  bool waited = false;
  for (int64_t u0 = first; u0 < nu; u0 += int64_t(stride) * kUnroll) {
    uint4 raw[kUnroll];
#pragma unroll
    for (int i = 0; i < kUnroll; ++i)
      if (u0 + stride * i < nu) raw[i] = load16(r + 16 * (u0 + stride * i));
    if (!waited) pdl_wait();  // the first weights are on their way: now the activations
    waited = true;
#pragma unroll
    for (int i = 0; i < kUnroll; ++i) {
      const int64_t u = u0 + stride * i;
      if (u >= nu) break;
      float v[8];
      const uint32_t words[4] = {raw[i].x, raw[i].y, raw[i].z, raw[i].w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        if constexpr (kHalf) {
          const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&words[k]));
          v[2 * k] = f.x, v[2 * k + 1] = f.y;
        } else {
          v[2 * k] = __uint_as_float(words[k] << 16), v[2 * k + 1] = __uint_as_float(words[k] & 0xFFFF0000u);
        }
      }
#pragma unroll
      for (int t = 0; t < kTokens; ++t) {
        if (t >= n) break;
        const float4* xs = reinterpret_cast<const float4*>(x + t * cols + 8 * u);
        const float4 a = __ldg(xs), b = __ldg(xs + 1);
        acc[t] += v[0] * a.x + v[1] * a.y + v[2] * a.z + v[3] * a.w + v[4] * b.x + v[5] * b.y + v[6] * b.z + v[7] * b.w;
      }
    }
  }
  if (!waited) pdl_wait();
}

// The F16 / BF16 GEMV: consecutive lanes take consecutive units.
// kSplit warps of a block (1, 2 or 4) share a row, taking its 32-unit pieces
// in turn: a warp streams its row in dependent passes of 32 x kUnroll units,
// so when the rows are too few to fill the GPU's warp slots many times over
// (an 8B model's output and down projections: 4,096 rows) a row's passes,
// not the bytes, bound the kernel, and a block lives as long as its row
// takes (the last wave's tail); split, each row takes 1 / kSplit of the
// passes and the GPU holds kSplit times the loads in flight.
template <bool kHalf, int kUnroll, int kTokens, int kSplit>
__global__ void __launch_bounds__(kWarps * 32) gemv_wide_kernel(JobTable jobs, const float* __restrict__ x, int n) {
  static_assert(kWarps % kSplit == 0, "a row's warps are in one block");
  pdl_trigger();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, part = warp % kSplit;
  const int64_t g = (int64_t(blockIdx.x) * kWarps + warp) / kSplit;
  const bool has_row = g < jobs.first_row[jobs.count];
  // Without a split a warp past the rows leaves; with one, every warp must
  // reach the barrier below.
  if (kSplit == 1 && !has_row) return;
  RowOf at{};
  float acc[kTokens] = {};
  if (has_row) {
    at = row_of(jobs, g);
    wide_row_share<kHalf, kUnroll, kTokens>(at.w.data + at.row * at.w.row_bytes, at.w.cols / 8, at.w.cols,
                                            32 * part + lane, 32 * kSplit, x, n, acc);
  } else {
    pdl_wait();
  }
  if constexpr (kSplit == 1) {
    store_row(at, acc, n, lane);
  } else {
    // Each warp's sums to shared memory; the row's first warp adds its
    // partners' (in a fixed order) and stores.
    __shared__ float partial[kWarps][kTokens];
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
      const float a = t < n ? warp_sum(acc[t]) : 0.0f;
      if (lane == 0) partial[warp][t] = a;
    }
    __syncthreads();
    if (!has_row || part != 0 || lane != 0) return;
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
      if (t >= n) break;
      float sum = 0;
#pragma unroll
      for (int k = 0; k < kSplit; ++k) sum += partial[warp + k][t];
      at.y[t * at.ldy + at.row] = sum + (at.bias ? at.bias[at.row] : 0.0f);
    }
  }
}

}  // namespace

bool gemv_int8_supports(const DeviceWeight& w) {
  const bool aligned = reinterpret_cast<uintptr_t>(w.data) % 16 == 0 && w.row_bytes % 16 == 0;
  switch (w.format) {
    case WFormat::q4_k: case WFormat::q6_k_split: return aligned && w.cols % 256 == 0;
    case WFormat::q8_0_split: return aligned && w.cols % 32 == 0;
    default: return false;
  }
}

void quantize_q8(const float* x, int64_t n, int64_t cols, int8_t* q, float2* ds, cudaStream_t stream) {
  const int64_t blocks = n * cols / 32;
  if (blocks == 0) return;
  launch_chained(quantize_q8_kernel, unsigned((blocks * 32 + 255) / 256), 256, stream, x, blocks, q, ds);
  check_launch("quantize_q8");
}

// Units a lane loads before it uses the first, for one token: enough that one
// pass of the warp covers the whole row (every load of the row in flight at
// once; a long row walked in several dependent passes was latency-bound),
// at most kMaxUnroll (registers). ALLM_CUDA_GEMV_UNROLL=N fixes it (measurements).
template <WFormat F>
constexpr int kMaxUnroll = F == WFormat::q6_k_split ? 4 : 8;

// ALLM_CUDA_GEMV_UNROLL, read once (0 when unset): the one-token GEMVs' unroll, both kinds.
int fixed_unroll() {
  static const int fixed = [] {
    const char* v = std::getenv("ALLM_CUDA_GEMV_UNROLL");
    return v ? std::atoi(v) : 0;
  }();
  return fixed;
}

int single_token_unroll(int64_t units, int most) {
  const int fixed = fixed_unroll();
  int u = 2;
  if (fixed > 0) {
    while (u < most && u < fixed) u *= 2;
    return u;
  }
  while (u < most && 32 * u < units) u *= 2;
  return u;
}

// Units of 16 bytes a lane of the one-token F16 / BF16 GEMV loads before it
// uses the first: 2 unless ALLM_CUDA_GEMV_UNROLL says 1, 4 or 8. Unlike the
// int8 GEMV's, more is slower (H100, 8B-shaped F16 decode: 166 tok/s with 2,
// 157 with 4, 151 with 8): the rows stream from enough resident warps, and
// fewer registers a thread keep more of them resident.
int wide_single_token_unroll() {
  const int u = fixed_unroll();
  return u == 1 || u == 4 || u == 8 ? u : 2;
}

// The table of jobs for the tokens t0.. of a chunk (each job's output moved to its row t0).
JobTable job_table(const GemvJob* jobs, int count, int64_t t0, const char* what) {
  if (count < 1 || count > kMaxGemvJobs) check(cudaErrorInvalidValue, what);
  JobTable t{};
  t.count = count;
  t.first_row[0] = 0;
  for (int k = 0; k < count; ++k) {
    if (jobs[k].w.format != jobs[0].w.format || jobs[k].w.cols != jobs[0].w.cols) check(cudaErrorInvalidValue, what);
    t.job[k] = jobs[k];
    t.job[k].y = jobs[k].y + t0 * jobs[k].ldy;
    t.first_row[k + 1] = t.first_row[k] + jobs[k].w.rows;
  }
  return t;
}

void gemv_int8_jobs(const GemvJob* jobs, int count, const int8_t* qx, const float2* ds, int64_t n,
                    cudaStream_t stream) {
  const DeviceWeight& w = jobs[0].w;
  for (int64_t t0 = 0; t0 < n; t0 += kGemvMaxTokens) {
    const int chunk = int(n - t0 < kGemvMaxTokens ? n - t0 : kGemvMaxTokens);
    const JobTable table = job_table(jobs, count, t0, "gemv_int8: jobs of one format and row length, at most 3");
    const unsigned blocks = unsigned((table.first_row[count] + kWarps - 1) / kWarps);
    const int8_t* q = qx + t0 * w.cols;
    const float2* s = ds + t0 * (w.cols / 32);
    auto launch = [&](auto f, auto unroll) {
      constexpr WFormat F = decltype(f)::value;
      constexpr int U = decltype(unroll)::value;
      if (chunk > 1) {
        launch_dependent(gemv_int8_kernel<F, U, kGemvMaxTokens>, blocks, kWarps * 32, stream, table, q, s, chunk);
        return;
      }
      const int64_t units = w.cols / (256 / Int8Dot<F>::kPerBlock);
      switch (single_token_unroll(units, kMaxUnroll<F>)) {
        case 2: launch_dependent(gemv_int8_kernel<F, 2, 1>, blocks, kWarps * 32, stream, table, q, s, chunk); break;
        case 4: launch_dependent(gemv_int8_kernel<F, 4, 1>, blocks, kWarps * 32, stream, table, q, s, chunk); break;
        default:
          if constexpr (kMaxUnroll<F> >= 8)
            launch_dependent(gemv_int8_kernel<F, 8, 1>, blocks, kWarps * 32, stream, table, q, s, chunk);
      }
    };
    using I2 = std::integral_constant<int, 2>;
    using I4 = std::integral_constant<int, 4>;
    switch (w.format) {
      case WFormat::q4_k: launch(std::integral_constant<WFormat, WFormat::q4_k>{}, I2{}); break;
      case WFormat::q8_0_split: launch(std::integral_constant<WFormat, WFormat::q8_0_split>{}, I4{}); break;
      case WFormat::q6_k_split: launch(std::integral_constant<WFormat, WFormat::q6_k_split>{}, I2{}); break;
      default: check(cudaErrorInvalidValue, "gemv_int8: format without an int8 kernel");
    }
    check_launch("gemv_int8");
  }
}

void gemv_int8(const DeviceWeight& w, const int8_t* qx, const float2* ds, int64_t n, float* y, int64_t ldy,
               const float* bias, cudaStream_t stream) {
  const GemvJob job{w, y, ldy, bias};
  gemv_int8_jobs(&job, 1, qx, ds, n, stream);
}

bool gemv_wide_supports(const DeviceWeight& w) {
  return (w.format == WFormat::f16 || w.format == WFormat::bf16) && w.cols % 8 == 0 &&
         reinterpret_cast<uintptr_t>(w.data) % 16 == 0 && w.row_bytes % 16 == 0;
}

// ALLM_CUDA_GEMV_SPLIT, read once (0 when unset): the one-token F16 / BF16
// GEMV's warps a row, fixed (measurements).
int fixed_wide_split() {
  static const int fixed = [] {
    const char* v = std::getenv("ALLM_CUDA_GEMV_SPLIT");
    const int s = v ? std::atoi(v) : 0;
    return s == 1 || s == 2 || s == 4 ? s : 0;
  }();
  return fixed;
}

int gemv_wide_split(int64_t cols) {
  if (const int fixed = fixed_wide_split()) return fixed;
  // As many warps as leave each at least two passes of its units (measured
  // in turn on one H100, 8B-shaped F16 decode: one warp a row 168.7 / 167.6
  // tok/s, 4 for every matrix 173.1 / 172.7; with 1 or 4 loads a lane
  // instead of 2, 171.1 / 171.1 and 170.5 / 170.3).
  const int64_t units = cols / 8, pass = 32 * int64_t(wide_single_token_unroll());
  int split = 1;
  while (split < 4 && units >= 2 * pass * split * 2) split *= 2;
  return split;
}

void gemv_wide_jobs(const GemvJob* jobs, int count, const float* x, int64_t n, cudaStream_t stream, int split) {
  for (int k = 0; k < count; ++k)
    if (!gemv_wide_supports(jobs[k].w)) check(cudaErrorInvalidValue, "gemv_wide: not an aligned F16/BF16 matrix");
  if (split != 0 && split != 1 && split != 2 && split != 4) check(cudaErrorInvalidValue, "gemv_wide: split of 1, 2 or 4");
  const bool half = jobs[0].w.format == WFormat::f16;
  for (int64_t t0 = 0; t0 < n; t0 += kGemvMaxTokens) {
    const int chunk = int(n - t0 < kGemvMaxTokens ? n - t0 : kGemvMaxTokens);
    const JobTable table = job_table(jobs, count, t0, "gemv_wide: jobs of one format and row length, at most 3");
    const int64_t rows = table.first_row[count];
    const float* xs = x + t0 * jobs[0].w.cols;
    if (chunk == 1) {
      const int s = split ? split : gemv_wide_split(jobs[0].w.cols);
      const unsigned blocks = unsigned((rows * s + kWarps - 1) / kWarps);
      auto launch = [&](auto unroll, auto parts) {
        constexpr int U = decltype(unroll)::value, S = decltype(parts)::value;
        if (half) launch_dependent(gemv_wide_kernel<true, U, 1, S>, blocks, kWarps * 32, stream, table, xs, chunk);
        else launch_dependent(gemv_wide_kernel<false, U, 1, S>, blocks, kWarps * 32, stream, table, xs, chunk);
      };
      auto by_split = [&](auto unroll) {
        switch (s) {
          case 2: launch(unroll, std::integral_constant<int, 2>{}); break;
          case 4: launch(unroll, std::integral_constant<int, 4>{}); break;
          default: launch(unroll, std::integral_constant<int, 1>{});
        }
      };
      switch (wide_single_token_unroll()) {
        case 1: by_split(std::integral_constant<int, 1>{}); break;
        case 4: by_split(std::integral_constant<int, 4>{}); break;
        case 8: by_split(std::integral_constant<int, 8>{}); break;
        default: by_split(std::integral_constant<int, 2>{});
      }
    } else {
      const unsigned blocks = unsigned((rows + kWarps - 1) / kWarps);
      if (half) launch_dependent(gemv_wide_kernel<true, 4, kGemvMaxTokens, 1>, blocks, kWarps * 32, stream, table, xs, chunk);
      else launch_dependent(gemv_wide_kernel<false, 4, kGemvMaxTokens, 1>, blocks, kWarps * 32, stream, table, xs, chunk);
    }
    check_launch("gemv_wide");
  }
}

void gemv_wide(const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy, const float* bias,
               cudaStream_t stream) {
  const GemvJob job{w, y, ldy, bias};
  gemv_wide_jobs(&job, 1, x, n, stream);
}

}  // namespace allm::cuda
