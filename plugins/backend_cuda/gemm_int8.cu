// Matmul of more than a few tokens on the int8 tensor cores, straight from
// the quantised weight blocks ("MMQ", llama.cpp's approach): no F16 copy of
// the weights. The activations are the int8 blocks of 32 that quantize_q8
// makes for the GEMV (codes, and per block ds = (scale d, d * sum of codes));
// the weights are Q4_K (ggml's layout) or the split Q8_0 / Q6_K layouts
// (device_weight.hpp), the formats gemv_int8 reads.
//
// A CTA (4 warps) computes 64 weight rows x kTokens tokens (8, 16, 32 or 64,
// chosen from n so that batched decode of 8, 16 or 32 sequences fills its
// tile). It walks the row in steps of 256 elements (one Q4_K / Q6_K block,
// eight Q8_0 blocks): the step's weight codes are unpacked into shared memory
// as int8 (Q4_K nibbles 0..15, Q6_K codes - 32, Q8_0 as stored) with each
// 32-element sub-block's float factors (Q4_K: d * scale and dmin * min; Q8_0:
// d; Q6_K: d * scale for each 16 elements), the tokens' codes and ds beside
// them. Warp w multiplies rows [16w, 16w + 16) of the tile with every token:
// per sub-block one integer MMA per 8 tokens, then, in F32,
//   acc += w_factor[row][sub] * ds.x[token][sub] * int_dot
//          (- w_min[row][sub] * ds.y[token][sub] for Q4_K, whose weights are d*sc*q - dmin*m),
// the same algebra as gemv_int8's Int8Dot. Q6_K has a scale per 16 elements,
// so its sub-block is two m16n8k16 MMAs (one per scale) instead of one m16n8k32.
//
// Fragments (PTX ISA, "Matrix Fragments for mma.m16n8k32" / "m16n8k16 with
// integer type"; lane = 4 * g + t, g = groupID 0..7, t = threadID_in_group 0..3):
//   m16n8k32 .s8, A (16x32, row-major), four .b32 registers of four bytes each:
//     a0: row g,     k 4t..4t+3      a1: row g + 8, k 4t..4t+3
//     a2: row g,     k 16+4t..+3     a3: row g + 8, k 16+4t..+3
//   B (32x8, column-major), two .b32: b0: k 4t..4t+3 of column g, b1: k 16+4t..+3 of column g.
//   C/D (16x8, .s32): c0: (row g, col 2t), c1: (g, 2t+1), c2: (g+8, 2t), c3: (g+8, 2t+1).
//   m16n8k16 .s8: A two .b32 (a0: row g, k 4t..4t+3; a1: row g + 8, same k),
//   B one .b32 (k 4t..4t+3 of column g), C/D as above.
// With the staged rows 256 + 16 bytes apart (68 words), the eight rows g of a
// fragment load start 4 banks apart and the four t's fill them: no conflicts.
//
// One stage of shared memory per CTA (25 to 44 KB); the weight bytes of step
// kt + 1 are loaded into registers while step kt is multiplied, and every
// load of a stage is issued before any is used; the tokens' codes and ds of
// step kt + 1 are copied into a second buffer meanwhile (cp.async, up to 32
// tokens; 64 tokens copy theirs at the start of the step). Registers (no
// spills, ptxas -v, sm_90a): 95 to 168 for 8 to 32 tokens (3 CTAs per SM); for 64, 139
// to 142 (Q4_K, Q6_K: 3 CTAs per SM) and 212 (Q8_0: 2).
//
// Small grids (few row tiles, as in batched decode of a 1024-row K/V
// projection) split the row's steps over gridDim.z CTAs writing partial sums
// to the caller's scratch; a second kernel adds them in a fixed order
// (deterministic) with the bias.
#include <algorithm>
#include <cstdint>

#include "int8_blocks.cuh"
#include "kernels.hpp"
#include "pdl.cuh"

namespace allm::cuda {
namespace {

constexpr int kTileRows = 64;               // weight rows per CTA, 16 per warp
constexpr int kThreads = 128;               // 4 warps
constexpr int kStep = 256;                  // row elements staged per step
constexpr int kSubs = kStep / 32;           // sub-blocks of 32 per step
constexpr int kStride = kStep + 16;         // bytes per staged row of codes (conflict-free fragments)

// The tokens' codes and ds are double-buffered up to 32 tokens (step kt + 1's
// copied in while step kt is multiplied, 25 to 44 KB in all); 64 tokens'
// second buffer would pass the 48 KB of static shared memory.
template <int kTokens>
constexpr int kTokenBuffers = kTokens <= 32 ? 2 : 1;

template <WFormat F, int kTokens>
struct Stage {
  static constexpr int kFactors = F == WFormat::q6_k_split ? 16 : 8;  // weight factors per row per step
  alignas(16) int8_t w[kTileRows][kStride];  // weight codes
  alignas(16) int8_t x[kTokenBuffers<kTokens>][kTokens][kStride];  // activation codes
  float factor[kTileRows][kFactors + 1];     // +1: rows g land in distinct banks
  float wmin[F == WFormat::q4_k ? kTileRows : 1][kSubs + 1];  // Q4_K: dmin * min
  // [sub][token]: a lane's two tokens 2t, 2t+1 in one 16-byte load
  alignas(16) float2 xds[kTokenBuffers<kTokens>][kSubs][kTokens];
};

__device__ __forceinline__ void mma_k32(int (&c)[4], int a0, int a1, int a2, int a3, int b0, int b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void mma_k16(int (&c)[4], int a0, int a1, int b0) {
  asm("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5}, {%6}, {%0, %1, %2, %3};"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a0), "r"(a1), "r"(b0));
}

__device__ __forceinline__ int64_t lesser(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ void store16(int8_t* p, uint4 v) { *reinterpret_cast<uint4*>(p) = v; }
__device__ __forceinline__ int word_at(const int8_t* p) { return *reinterpret_cast<const int*>(p); }

// Asynchronous copies global -> shared (sm_80+): no registers held while the
// bytes travel; cp_async_wait<N> returns when at most N committed groups of
// this thread are still in flight (the data then visible to this thread;
// __syncthreads after it, to the CTA).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const unsigned to = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(to), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async8(void* smem, const void* gmem) {
  const unsigned to = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(to), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
}

// One step's weight bytes of a CTA's rows, loaded into registers (every
// load of the thread issued before any is used, and those of step kt + 1
// while step kt is multiplied), then unpacked into the stage. Rows past the
// matrix read its last row: finite values, never written out. Each thread
// takes pieces tid + 128 * it (compile-time trip counts: the loads unroll).
template <WFormat F>
struct WeightRegs;

// Q4_K: block kt of the row is a 16-byte header, then 128 bytes of nibbles;
// byte 32p + l holds element 64p + l (low nibble) and 64p + 32 + l (high).
template <>
struct WeightRegs<WFormat::q4_k> {
  static constexpr int kIters = kTileRows * 8 / kThreads;  // 16-byte pieces of nibbles
  uint4 v[kIters];
  uint4 head;  // threads 0..63: row tid's header
  __device__ void load(const DeviceWeight& w, int64_t row0, int64_t kt, int) {
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
      const int i = threadIdx.x + it * kThreads, r = i >> 3, c = i & 7;
      v[it] = load16(w.data + lesser(row0 + r, w.rows - 1) * w.row_bytes + kt * 144 + 16 + 16 * c);
    }
    if (threadIdx.x < kTileRows) head = load16(w.data + lesser(row0 + threadIdx.x, w.rows - 1) * w.row_bytes + kt * 144);
  }
  template <class S>
  __device__ void store(S& s, int) const {
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
      const int i = threadIdx.x + it * kThreads, r = i >> 3, c = i & 7, p = c >> 1, l0 = 16 * (c & 1);
      store16(&s.w[r][64 * p + l0], nibbles(v[it], 0));
      store16(&s.w[r][64 * p + 32 + l0], nibbles(v[it], 4));
    }
    if (threadIdx.x < kTileRows) {
      const int r = threadIdx.x;
      const float d = q4k_d(head), dmin = q4k_dmin(head);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        int sc, m;
        q4k_scale_min(head, j, sc, m);
        s.factor[r][j] = d * float(sc);
        s.wmin[r][j] = dmin * float(m);
      }
    }
  }
};

// Q8_0 split: the row's codes (cols bytes), then its F16 scales; `subs`
// blocks of 32 in this step (fewer only at the end of a row).
template <>
struct WeightRegs<WFormat::q8_0_split> {
  static constexpr int kIters = kTileRows * 16 / kThreads, kScaleIters = kTileRows * kSubs / kThreads;
  uint4 v[kIters];
  unsigned short d[kScaleIters];
  __device__ void load(const DeviceWeight& w, int64_t row0, int64_t kt, int subs) {
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
      const int i = threadIdx.x + it * kThreads, r = i >> 4, c = i & 15;
      if (c < 2 * subs) v[it] = load16(w.data + lesser(row0 + r, w.rows - 1) * w.row_bytes + kt * kStep + 16 * c);
    }
#pragma unroll
    for (int it = 0; it < kScaleIters; ++it) {
      const int i = threadIdx.x + it * kThreads, r = i >> 3, j = i & 7;
      const uint8_t* row = w.data + lesser(row0 + r, w.rows - 1) * w.row_bytes;
      if (j < subs) d[it] = __ldg(reinterpret_cast<const unsigned short*>(row + w.cols) + kt * kSubs + j);
    }
  }
  template <class S>
  __device__ void store(S& s, int subs) const {
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
      const int i = threadIdx.x + it * kThreads, r = i >> 4, c = i & 15;
      if (c < 2 * subs) store16(&s.w[r][16 * c], v[it]);
    }
#pragma unroll
    for (int it = 0; it < kScaleIters; ++it) {
      const int i = threadIdx.x + it * kThreads, r = i >> 3, j = i & 7;
      if (j < subs) s.factor[r][j] = __half2float(__ushort_as_half(d[it]));
    }
  }
};

// Q6_K split: ql (128 bytes a block), qh (64), scales (16), d (2). A unit is
// half h, columns [16v, 16v + 16) of its four quarters (gemv_int8's
// Int8Dot<q6_k_split>): quarter k's codes are elements 128h + 32k + 16v + 0..15.
// Scale j covers elements [16j, 16j + 16) of the block.
template <>
struct WeightRegs<WFormat::q6_k_split> {
  static constexpr int kIters = kTileRows * 4 / kThreads;  // units
  uint4 ql0[kIters], ql1[kIters], qh[kIters];
  uint4 sc;            // threads 0..63: row tid's 16 scales
  unsigned short d;    // and its d
  __device__ void load(const DeviceWeight& w, int64_t row0, int64_t kt, int) {
    const int64_t nb = w.cols / 256;
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
      const int i = threadIdx.x + it * kThreads, r = i >> 2, h = (i >> 1) & 1, v = i & 1;
      const uint8_t* row = w.data + lesser(row0 + r, w.rows - 1) * w.row_bytes;
      ql0[it] = load16(row + 128 * kt + 64 * h + 16 * v);
      ql1[it] = load16(row + 128 * kt + 64 * h + 32 + 16 * v);
      qh[it] = load16(row + 128 * nb + 64 * kt + 32 * h + 16 * v);
    }
    if (threadIdx.x < kTileRows) {
      const uint8_t* row = w.data + lesser(row0 + threadIdx.x, w.rows - 1) * w.row_bytes;
      sc = load16(row + 192 * nb + 16 * kt);
      d = __ldg(reinterpret_cast<const unsigned short*>(row + 208 * nb) + kt);
    }
  }
  template <class S>
  __device__ void store(S& s, int) const {
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
      const int i = threadIdx.x + it * kThreads, r = i >> 2, h = (i >> 1) & 1, v = i & 1;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const uint4 l = (k & 1) ? ql1[it] : ql0[it], hb = qh[it];
        store16(&s.w[r][128 * h + 32 * k + 16 * v], make_uint4(q6k_codes(l.x, hb.x, k), q6k_codes(l.y, hb.y, k),
                                                                q6k_codes(l.z, hb.z, k), q6k_codes(l.w, hb.w, k)));
      }
    }
    if (threadIdx.x < kTileRows) {
      const int r = threadIdx.x;
      const float df = __half2float(__ushort_as_half(d));
      const uint32_t words[4] = {sc.x, sc.y, sc.z, sc.w};
#pragma unroll
      for (int j = 0; j < 16; ++j) s.factor[r][j] = df * float(int(int8_t(words[j >> 2] >> (8 * (j & 3)))));
    }
  }
};

// Starts copying step kt's codes and ds of tokens tok0.. (tokens past n
// read token n - 1) into token buffer b, as one committed group of copies.
// (The activations are small and mostly in L2; through registers, their
// latency stalled every step between its two barriers.)
template <WFormat F, int kTokens>
__device__ void stage_tokens_async(Stage<F, kTokens>& s, int b, const int8_t* q, const float2* ds, int64_t cols,
                                   int64_t tok0, int64_t n, int64_t kt, int subs) {
  constexpr int kPieces = kTokens * 16, kScales = kTokens * kSubs;  // 16-byte pieces of codes, ds entries
  constexpr int kIters = (kPieces + kThreads - 1) / kThreads, kScaleIters = (kScales + kThreads - 1) / kThreads;
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    const int i = threadIdx.x + it * kThreads, t = i >> 4, c = i & 15;
    const int64_t token = lesser(tok0 + t, n - 1);
    if (i < kPieces && c < 2 * subs) cp_async16(&s.x[b][t][16 * c], q + token * cols + kt * kStep + 16 * c);
  }
#pragma unroll
  for (int it = 0; it < kScaleIters; ++it) {
    const int i = threadIdx.x + it * kThreads, t = i >> 3, j = i & 7;
    const int64_t token = lesser(tok0 + t, n - 1);
    if (i < kScales && j < subs) cp_async8(&s.xds[b][j][t], ds + token * (cols / 32) + kt * kSubs + j);
  }
  cp_async_commit();
}

// blockIdx.x: token tile (fastest: the CTAs running together share weight
// rows, read from DRAM once), blockIdx.y: row tile, blockIdx.z: the part of
// the row's steps (steps_per_split each). splits == 1: y[t * ldy + r] (+ bias);
// else partial[z][t][r] (ldy == rows), summed by sum_splits_kernel.
template <WFormat F, int kTokens>
__global__ void __launch_bounds__(kThreads, kTokens == 64 ? 2 : 3)
    gemm_int8_kernel(DeviceWeight w, const int8_t* __restrict__ q, const float2* __restrict__ ds, int64_t n,
                     float* __restrict__ y, int64_t ldy, const float* __restrict__ bias, int64_t steps_per_split) {
  pdl_trigger();
  __shared__ Stage<F, kTokens> s;
  constexpr int kTiles = kTokens / 8;  // MMA column tiles
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t4 = lane & 3;
  const int r0 = 16 * warp + g, r1 = r0 + 8;  // this lane's rows in the tile (C fragment)
  const int64_t tok0 = int64_t(blockIdx.x) * kTokens, row0 = int64_t(blockIdx.y) * kTileRows;
  const int64_t steps = (w.cols + kStep - 1) / kStep;
  const int64_t kt0 = int64_t(blockIdx.z) * steps_per_split, kt1 = lesser(steps, kt0 + steps_per_split);

  float acc[kTiles][4];
#pragma unroll
  for (int j = 0; j < kTiles; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

  auto subs_of = [&](int64_t kt) { return int(lesser(kSubs, (w.cols - kt * kStep) / 32)); };
  constexpr bool kDouble = kTokenBuffers<kTokens> == 2;
  WeightRegs<F> next;
  if (kt0 < kt1) {
    next.load(w, row0, kt0, subs_of(kt0));
    if constexpr (kDouble) stage_tokens_async(s, 0, q, ds, w.cols, tok0, n, kt0, subs_of(kt0));
  }
  for (int64_t kt = kt0; kt < kt1; ++kt) {
    const int subs = subs_of(kt), b = kDouble ? int((kt - kt0) & 1) : 0;
    __syncthreads();  // the previous step's reads (of the weights and of the other token buffer) are done
    next.store(s, subs);
    if (!kDouble) {
      stage_tokens_async(s, 0, q, ds, w.cols, tok0, n, kt, subs);
      cp_async_wait<0>();
    } else if (kt + 1 < kt1) {  // the next step's tokens travel during this step
      stage_tokens_async(s, b ^ 1, q, ds, w.cols, tok0, n, kt + 1, subs_of(kt + 1));
      cp_async_wait<1>();  // this step's group has landed
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (kt + 1 < kt1) next.load(w, row0, kt + 1, subs_of(kt + 1));  // in flight during this step's MMAs
#pragma unroll
    for (int sb = 0; sb < kSubs; ++sb) {
      if (sb >= subs) break;
      const int k = 32 * sb + 4 * t4;
      const int a0 = word_at(&s.w[r0][k]), a1 = word_at(&s.w[r1][k]);
      const int a2 = word_at(&s.w[r0][k + 16]), a3 = word_at(&s.w[r1][k + 16]);
#pragma unroll
      for (int j = 0; j < kTiles; ++j) {
        const int b0 = word_at(&s.x[b][8 * j + g][k]), b1 = word_at(&s.x[b][8 * j + g][k + 16]);
        const float4 xx = *reinterpret_cast<const float4*>(&s.xds[b][sb][8 * j + 2 * t4]);  // the C columns' tokens
        const float2 x0 = make_float2(xx.x, xx.y), x1 = make_float2(xx.z, xx.w);
        if constexpr (F == WFormat::q6_k_split) {
          int lo[4] = {0, 0, 0, 0}, hi[4] = {0, 0, 0, 0};  // elements [0, 16) and [16, 32) of the sub-block
          mma_k16(lo, a0, a1, b0);
          mma_k16(hi, a2, a3, b1);
          const float f00 = s.factor[r0][2 * sb], f01 = s.factor[r0][2 * sb + 1];
          const float f10 = s.factor[r1][2 * sb], f11 = s.factor[r1][2 * sb + 1];
          acc[j][0] += x0.x * (f00 * float(lo[0]) + f01 * float(hi[0]));
          acc[j][1] += x1.x * (f00 * float(lo[1]) + f01 * float(hi[1]));
          acc[j][2] += x0.x * (f10 * float(lo[2]) + f11 * float(hi[2]));
          acc[j][3] += x1.x * (f10 * float(lo[3]) + f11 * float(hi[3]));
        } else {
          int c[4] = {0, 0, 0, 0};
          mma_k32(c, a0, a1, a2, a3, b0, b1);
          const float f0 = s.factor[r0][sb], f1 = s.factor[r1][sb];
          acc[j][0] += f0 * x0.x * float(c[0]);
          acc[j][1] += f0 * x1.x * float(c[1]);
          acc[j][2] += f1 * x0.x * float(c[2]);
          acc[j][3] += f1 * x1.x * float(c[3]);
          if constexpr (F == WFormat::q4_k) {
            const float m0 = s.wmin[r0][sb], m1 = s.wmin[r1][sb];
            acc[j][0] -= m0 * x0.y;
            acc[j][1] -= m0 * x1.y;
            acc[j][2] -= m1 * x0.y;
            acc[j][3] -= m1 * x1.y;
          }
        }
      }
    }
  }

  float* out = gridDim.z == 1 ? y : y + int64_t(blockIdx.z) * n * w.rows;
  const bool add_bias = gridDim.z == 1 && bias;
#pragma unroll
  for (int j = 0; j < kTiles; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int64_t row = row0 + (e < 2 ? r0 : r1), tok = tok0 + 8 * j + 2 * t4 + (e & 1);
      if (row < w.rows && tok < n) out[tok * ldy + row] = acc[j][e] + (add_bias ? bias[row] : 0.0f);
    }
}

// y[t * ldy + r] = sum over the splits of partial[s][t][r] (in order), + bias[r].
__global__ void sum_splits_kernel(const float* __restrict__ partial, int splits, int64_t n, int64_t rows,
                                  float* __restrict__ y, int64_t ldy, const float* __restrict__ bias) {
  pdl_trigger();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n * rows) return;
  const int64_t t = i / rows, r = i % rows;
  float sum = 0;
  for (int s = 0; s < splits; ++s) sum += partial[int64_t(s) * n * rows + i];
  y[t * ldy + r] = sum + (bias ? bias[r] : 0.0f);
}

template <WFormat F, int kTokens>
void launch(const DeviceWeight& w, const int8_t* q, const float2* ds, int64_t n, float* y, int64_t ldy,
            const float* bias, float* partial, int64_t partial_elems, cudaStream_t stream) {
  const int64_t row_tiles = (w.rows + kTileRows - 1) / kTileRows, token_tiles = (n + kTokens - 1) / kTokens;
  const int64_t steps = (w.cols + kStep - 1) / kStep;
  // Enough CTAs for about three per SM (what fits, but for 64 tokens): split the steps of a row
  // when the tiles alone are fewer, each part two steps at least, as far as
  // the scratch holds the partial sums.
  const int64_t base = row_tiles * token_tiles, target = 3 * int64_t(multiprocessors());
  int64_t splits = 1;
  if (partial && base < target) {
    splits = std::min<int64_t>({(target + base - 1) / base, steps / 2, 16, partial_elems / (n * w.rows)});
    splits = std::max<int64_t>(splits, 1);
  }
  const int64_t per_split = (steps + splits - 1) / splits;
  splits = (steps + per_split - 1) / per_split;  // no empty part
  const dim3 grid{unsigned(token_tiles), unsigned(row_tiles), unsigned(splits)};
  if (splits == 1) {
    gemm_int8_kernel<F, kTokens><<<grid, kThreads, 0, stream>>>(w, q, ds, n, y, ldy, bias, per_split);
    check_launch("gemm_int8");
    return;
  }
  gemm_int8_kernel<F, kTokens><<<grid, kThreads, 0, stream>>>(w, q, ds, n, partial, w.rows, nullptr, per_split);
  check_launch("gemm_int8");
  const int64_t outputs = n * w.rows;
  sum_splits_kernel<<<unsigned((outputs + 255) / 256), 256, 0, stream>>>(partial, int(splits), n, w.rows, y, ldy,
                                                                          bias);
  check_launch("gemm_int8 (split sums)");
}

template <WFormat F>
void launch_tokens(const DeviceWeight& w, const int8_t* q, const float2* ds, int64_t n, float* y, int64_t ldy,
                   const float* bias, float* partial, int64_t partial_elems, cudaStream_t stream) {
  if (n <= 8) launch<F, 8>(w, q, ds, n, y, ldy, bias, partial, partial_elems, stream);  // ALLM_CUDA_MMQ_MIN <= 8
  else if (n <= 16) launch<F, 16>(w, q, ds, n, y, ldy, bias, partial, partial_elems, stream);
  else if (n <= 32) launch<F, 32>(w, q, ds, n, y, ldy, bias, partial, partial_elems, stream);
  else launch<F, 64>(w, q, ds, n, y, ldy, bias, partial, partial_elems, stream);
}

}  // namespace

bool gemm_int8_supports(const DeviceWeight& w) { return gemv_int8_supports(w); }

void gemm_int8(const DeviceWeight& w, const int8_t* q, const float2* ds, int64_t n, float* y, int64_t ldy,
               const float* bias, float* partial, int64_t partial_elems, cudaStream_t stream) {
  if (n <= 0 || w.rows == 0) return;
  switch (w.format) {
    case WFormat::q4_k: launch_tokens<WFormat::q4_k>(w, q, ds, n, y, ldy, bias, partial, partial_elems, stream); break;
    case WFormat::q8_0_split:
      launch_tokens<WFormat::q8_0_split>(w, q, ds, n, y, ldy, bias, partial, partial_elems, stream);
      break;
    case WFormat::q6_k_split:
      launch_tokens<WFormat::q6_k_split>(w, q, ds, n, y, ldy, bias, partial, partial_elems, stream);
      break;
    default: check(cudaErrorInvalidValue, "gemm_int8: format without an int8 kernel");
  }
}

}  // namespace allm::cuda
