// Prefill attention on the tensor cores (flash attention over the paged KV
// cache). A block of 4 warps takes 64 query rows of one kv head: rows are
// (token, query head of that kv head's group), token-major, so the K/V rows of
// each tile are read once for every head sharing them (GQA). The block walks
// the positions its rows can see in tiles of kKeys keys: the tile's F16 / Q8_0
// rows (Q8_0 decoded to F16) go to shared memory, each warp computes its 16
// rows' scores S = Q K^T with mma.sync m16n8k16 (F16 in, F32 accumulation),
// applies scale, softcap and the causal / window mask, keeps an online softmax
// in F32 registers, and adds P V on the tensor cores. At the end the sink logit
// (gpt-oss) joins the denominator.
//
// Accuracy: the CPU attends in F32 over the stored rows. F16 K/V rows are
// exact in F16; Q and P are not, so each is split into two F16 parts (value
// and remainder, ~22 bits together) and multiplied twice: scores and weights
// then carry ~2^-22 relative error instead of 2^-11. Each Q row is scaled by a
// power of two (its largest magnitude below 2^14) before the split, so no
// query overflows F16 or loses bits in F16's subnormals; the power comes off
// the F32 scores exactly. Q8_0 rows are decoded to F16 (scale x code rounded:
// 2^-11 relative, 1/16 of Q8_0's own step; saturated at +-65504).
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating
// point type"; g = lane >> 2, c = lane & 3):
//   A (16x16, row-major, 4 x .f16x2): reg0 = A[g][2c..2c+1], reg1 = A[g+8][2c..],
//     reg2 = A[g][2c+8..], reg3 = A[g+8][2c+8..] (lower column in the low half).
//   B (16x8, "col", 2 x .f16x2): reg0 = B[2c..2c+1][g], reg1 = B[2c+8..2c+9][g].
//   C/D (16x8 F32): c0, c1 = C[g][2c], C[g][2c+1]; c2, c3 = C[g+8][2c], C[g+8][2c+1].
// ldmatrix .m8n8.x4: lanes 8i..8i+7 give the row addresses of matrix i; every
// lane receives register i = M_i[lane >> 2][2(lane & 3)..+1], or with .trans
// M_i[2(lane & 3)..+1][lane >> 2]. So:
//   Q (A operand, smem [row][dim]): lane -> row lane & 15, dim + 8 (lane >> 4).
//   K (B operand of S = Q K^T, B[k][n] = K[key n][dim k], smem [key][dim]):
//     lane -> key (lane & 7) + 8 (lane >> 4), dim + 8 ((lane >> 3) & 1); regs
//     0, 1 are the B of keys 0-7, regs 2, 3 of keys 8-15.
//   V (B operand of O = P V, B[k][n] = V[key k][dim n], smem [key][dim], .trans):
//     lane -> key (lane & 7) + 8 ((lane >> 3) & 1), dim + 8 (lane >> 4); regs
//     0, 1 are the B of dims 0-7, regs 2, 3 of dims 8-15.
//   P (A operand) straight from the score accumulators: for keys 16kk..16kk+15,
//     reg0 = S[2kk].c0c1, reg1 = S[2kk].c2c3, reg2 = S[2kk+1].c0c1, reg3 = S[2kk+1].c2c3.
#include <cfloat>
#include <climits>
#include <cstdint>

#include <cuda_fp16.h>

#include "kernels.hpp"
#include "pdl.cuh"
#include "kv_format.cuh"
#include "warp_reduce.cuh"

namespace allm::cuda {
namespace {

constexpr int kRows = 64;  // query rows per block: 4 warps of 16
constexpr int kThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;

// Keys per tile: 64, or 32 for head_dim 256 (registers: the output rows
// alone take head_dim / 2 per thread).
template <int kD>
constexpr int kKeysPerTile = kD > 128 ? 32 : 64;
// Shared row stride in halves: 16 bytes of padding put the 8 rows one
// ldmatrix reads on 8 different 4-bank groups.
template <int kD>
constexpr int kRowStride = kD + 8;
template <int kD>
constexpr size_t kSharedBytes = size_t(2 * kRows + 2 * kKeysPerTile<kD>) * kRowStride<kD> * sizeof(uint16_t) +
                                kKeysPerTile<kD> * sizeof(void*) + kRows * sizeof(int);

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return uint32_t(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const __half* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p))
               : "memory");
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const __half* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p))
               : "memory");
}
// c += A B (16x8x16, F16 inputs, F32 accumulation).
__device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t half2_bits(__half2 h) {
  return uint32_t(__half_as_ushort(__low2half(h))) | uint32_t(__half_as_ushort(__high2half(h))) << 16;
}
// (x, y) as two F16 pairs: the rounded values and what rounding left.
__device__ __forceinline__ void split_pair(float x, float y, uint32_t& hi, uint32_t& lo) {
  const __half2 h = __floats2half2_rn(x, y);
  const float2 back = __half22float2(h);
  hi = half2_bits(h);
  lo = half2_bits(__floats2half2_rn(x - back.x, y - back.y));
}
// 2^e for |e| <= 126.
__device__ __forceinline__ float pow2(int e) {
  return __int_as_float((127 + e) << 23);
}

// Little-endian word from 4 bytes at any alignment.
__device__ __forceinline__ uint32_t bytes_word(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
// 16 bytes of a stored row, with the widest loads its address allows (a
// pool's rows are 16-byte aligned; a view may place them anywhere).
__device__ __forceinline__ uint4 load16(const uint8_t* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if ((a & 15) == 0) return __ldg(reinterpret_cast<const uint4*>(p));
  if ((a & 7) == 0) {
    const uint2 x = __ldg(reinterpret_cast<const uint2*>(p)), y = __ldg(reinterpret_cast<const uint2*>(p) + 1);
    return make_uint4(x.x, x.y, y.x, y.y);
  }
  if ((a & 3) == 0) {
    const uint32_t* w = reinterpret_cast<const uint32_t*>(p);
    return make_uint4(__ldg(w), __ldg(w + 1), __ldg(w + 2), __ldg(w + 3));
  }
  return make_uint4(bytes_word(p), bytes_word(p + 4), bytes_word(p + 8), bytes_word(p + 12));
}
__device__ __forceinline__ uint2 load8(const uint8_t* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if ((a & 7) == 0) return __ldg(reinterpret_cast<const uint2*>(p));
  if ((a & 3) == 0) {
    const uint32_t* w = reinterpret_cast<const uint32_t*>(p);
    return make_uint2(__ldg(w), __ldg(w + 1));
  }
  return make_uint2(bytes_word(p), bytes_word(p + 4));
}
__device__ __forceinline__ float load_float(const uint8_t* p) {
  if ((reinterpret_cast<uintptr_t>(p) & 3) == 0) return __ldg(reinterpret_cast<const float*>(p));
  return __uint_as_float(bytes_word(p));
}

__device__ __forceinline__ uint32_t q8_pair(float scale, uint32_t codes, int shift) {
  const float a = scale * float(int8_t(codes >> shift)), b = scale * float(int8_t(codes >> (shift + 8)));
  return half2_bits(__floats2half2_rn(fminf(fmaxf(a, -65504.0f), 65504.0f), fminf(fmaxf(b, -65504.0f), 65504.0f)));
}
// Values c..c+7 (c a multiple of 8) of a Q8_0 row of d values, as F16.
__device__ __forceinline__ uint4 decode_q8(const uint8_t* row, int d, int c) {
  const int groups = (d + kKVGroup - 1) / kKVGroup;
  const float scale = load_float(row + 4 * (c / kKVGroup));
  const uint2 codes = load8(row + 4 * groups + c);
  return make_uint4(q8_pair(scale, codes.x, 0), q8_pair(scale, codes.x, 16), q8_pair(scale, codes.y, 0),
                    q8_pair(scale, codes.y, 16));
}

// kD: head_dim rounded up to 64, 128 or 256 (the padding is zeros in shared
// memory and skipped by the products). seqs: null (one sequence: the other
// arguments) or a device array, blockIdx.z picking one. blockIdx.x is the kv
// head, blockIdx.y the row tile counted from the last (the longest walks start first).
template <int kD>
__global__ void __launch_bounds__(kThreads, kD > 128 ? 2 : 3)
    flash_attention_kernel(DeviceKV kv, const float* __restrict__ q, float* __restrict__ out, int64_t n,
                           int64_t pos0, const DeviceSeq* __restrict__ seqs, DeviceAttention p) {
  pdl_trigger();
  constexpr int kKeys = kKeysPerTile<kD>, kStride = kRowStride<kD>, kChunks = kD / 8;
  extern __shared__ __align__(16) uint8_t shared[];
  __half* q_hi = reinterpret_cast<__half*>(shared);  // [kRows][kStride]: Q x 2^e, value part
  __half* q_lo = q_hi + kRows * kStride;              // remainder part
  __half* k_tile = q_lo + kRows * kStride;            // [kKeys][kStride]
  __half* v_tile = k_tile + kKeys * kStride;
  const uint8_t** key_rows = reinterpret_cast<const uint8_t**>(v_tile + kKeys * kStride);  // [kKeys]: row address or null
  int* q_exp = reinterpret_cast<int*>(key_rows + kKeys);  // [kRows]: e of each Q row

  if (seqs) {
    const DeviceSeq& sq = seqs[blockIdx.z];
    kv = sq.kv, q = sq.a, out = sq.out, n = sq.n, pos0 = sq.pos0;
  }
  const int64_t group = p.heads / p.kv_heads, rows = n * group;
  const int64_t r0 = int64_t(gridDim.y - 1 - blockIdx.y) * kRows;
  if (r0 >= rows) return;  // the whole block: a shorter sequence of a batch
  const int d = int(p.head_dim), g = int(blockIdx.x), lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int gid = lane >> 2, tig = lane & 3;
  const int first_pos = int(pos0);
  const int window = p.window > 0 ? int(p.window < INT_MAX / 2 ? p.window : INT_MAX / 2) : 0;

  // Q: each warp converts its own 16 rows (scaled by p.scale, then by 2^e).
  for (int i = 0; i < 16; ++i) {
    const int rl = warp * 16 + i;
    const int64_t r = r0 + rl;
    float v[kD / 32];
    float amax = 0;
    const float* qr = r < rows ? q + ((r / group) * p.heads + g * group + r % group) * d : nullptr;
#pragma unroll
    for (int k = 0; k < kD / 32; ++k) {
      const int c = lane + 32 * k;
      v[k] = qr && c < d ? qr[c] * p.scale : 0.0f;
      amax = fmaxf(amax, fabsf(v[k]));
    }
    amax = warp_max(amax);
    int e = 0;
    if (amax > 0 && amax <= FLT_MAX) {
      int ex;
      frexpf(amax, &ex);  // amax < 2^ex
      e = min(max(14 - ex, -64), 64);
    }
    const float up = pow2(e);
#pragma unroll
    for (int k = 0; k < kD / 32; ++k) {
      const int c = lane + 32 * k;
      const float x = v[k] * up;
      const __half hi = __float2half_rn(x);
      q_hi[rl * kStride + c] = hi;
      q_lo[rl * kStride + c] = __float2half_rn(x - __half2float(hi));
    }
    if (lane == 0) q_exp[rl] = e;
  }
  __syncwarp();

  // This thread's two rows (gid and gid + 8 of its warp's 16): position,
  // first visible position (window), and the factor that undoes 2^e.
  int64_t row[2];
  int pos[2], lo[2];
  float down[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int rl = warp * 16 + gid + 8 * i;
    row[i] = r0 + rl;
    pos[i] = first_pos + int((row[i] < rows ? row[i] : rows - 1) / group);
    lo[i] = window > 0 ? pos[i] - window + 1 : INT_MIN;
    down[i] = pow2(-q_exp[rl]);
  }
  // The block's positions: from the first row's first visible one to the last row's own.
  const int64_t last_row = (r0 + kRows < rows ? r0 + kRows : rows) - 1;
  const int key_last = first_pos + int(last_row / group);
  const int key_first = window > 0 ? max(0, first_pos + int(r0 / group) - window + 1) : 0;
  // This warp's: a tile outside [w_lo_first, w_pos_last] is skipped; one
  // inside [w_lo_last, w_pos_first] needs no mask.
  const int64_t w0 = r0 + warp * 16, w1 = (w0 + 16 < rows ? w0 + 16 : rows) - 1;
  const bool warp_live = w0 < rows;
  const int w_pos_first = first_pos + int((w0 < rows ? w0 : rows - 1) / group);
  const int w_pos_last = first_pos + int(w1 / group);
  const int w_lo_first = window > 0 ? w_pos_first - window + 1 : INT_MIN;
  const int w_lo_last = window > 0 ? w_pos_last - window + 1 : INT_MIN;

  float o[kD / 8][4];
#pragma unroll
  for (int i = 0; i < kD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0, 0};  // running max (log2 units) and this thread's share of the sum

  for (int j0 = key_first; j0 <= key_last; j0 += kKeys) {
    if (threadIdx.x < kKeys) {
      const int j = j0 + int(threadIdx.x);
      key_rows[threadIdx.x] =
          j <= key_last ? kv.blocks[j / kv.block] + g * kv.head_stride + (j % kv.block) * kv.row_bytes : nullptr;
    }
    __syncthreads();  // key_rows written; every warp done with the previous tile
    for (int i = threadIdx.x; i < kKeys * kChunks; i += kThreads) {
      const int r = i / kChunks, c = (i % kChunks) * 8;
      const uint8_t* base = key_rows[r];
      uint4 kx = make_uint4(0, 0, 0, 0), vx = kx;  // past the last position or head_dim: zeros
      if (base && c < d) {
        if (kv.type == kKVF16) {
          kx = load16(base + kv.k_offset + 2 * c);
          vx = load16(base + kv.v_offset + 2 * c);
        } else {
          kx = decode_q8(base + kv.k_offset, d, c);
          vx = decode_q8(base + kv.v_offset, d, c);
        }
      }
      *reinterpret_cast<uint4*>(k_tile + r * kStride + c) = kx;
      *reinterpret_cast<uint4*>(v_tile + r * kStride + c) = vx;
    }
    __syncthreads();
    if (!warp_live || j0 > w_pos_last || j0 + kKeys - 1 < w_lo_first) continue;

    // S = (Q_hi + Q_lo) K^T: 16 rows x kKeys keys per warp.
    float s[kKeys / 8][4];
#pragma unroll
    for (int i = 0; i < kKeys / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0;
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
      if (kk * 16 >= d) break;
      uint32_t ah[4], al[4];
      const int qo = (warp * 16 + (lane & 15)) * kStride + kk * 16 + (lane >> 4) * 8;
      ldmatrix_x4(ah, q_hi + qo);
      ldmatrix_x4(al, q_lo + qo);
#pragma unroll
      for (int nn = 0; nn < kKeys / 16; ++nn) {
        uint32_t b[4];
        ldmatrix_x4(b, k_tile + (nn * 16 + (lane & 7) + (lane >> 4) * 8) * kStride + kk * 16 + ((lane >> 3) & 1) * 8);
        mma(s[2 * nn], al, b[0], b[1]);
        mma(s[2 * nn], ah, b[0], b[1]);
        mma(s[2 * nn + 1], al, b[2], b[3]);
        mma(s[2 * nn + 1], ah, b[2], b[3]);
      }
    }
    // Scores in log2 units (softcap first, on the true score), masked to -inf.
    const bool masked = !(j0 + kKeys - 1 <= w_pos_first && j0 >= w_lo_last);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < kKeys / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = e >> 1;
        float x = s[nt][e] * down[i];
        if (p.softcap > 0) x = p.softcap * tanhf(x / p.softcap);
        x *= kLog2e;
        if (masked) {
          const int j = j0 + nt * 8 + 2 * tig + (e & 1);
          if (j > pos[i] || j < lo[i]) x = -INFINITY;
        }
        s[nt][e] = x;
        mx[i] = fmaxf(mx[i], x);
      }
    float base[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
      const float mn = fmaxf(m[i], mx[i]);
      base[i] = mn == -INFINITY ? 0.0f : mn;  // nothing visible yet: every weight 0, no NaN
      const float corr = exp2f(m[i] - base[i]);
      m[i] = mn;
      l[i] *= corr;
#pragma unroll
      for (int dt = 0; dt < kD / 8; ++dt) o[dt][2 * i] *= corr, o[dt][2 * i + 1] *= corr;
    }
#pragma unroll
    for (int nt = 0; nt < kKeys / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[nt][e] = exp2f(s[nt][e] - base[e >> 1]);
        l[e >> 1] += s[nt][e];
      }
    // O += (P_hi + P_lo) V.
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      uint32_t ph[4], pl[4];
      split_pair(s[2 * kk][0], s[2 * kk][1], ph[0], pl[0]);
      split_pair(s[2 * kk][2], s[2 * kk][3], ph[1], pl[1]);
      split_pair(s[2 * kk + 1][0], s[2 * kk + 1][1], ph[2], pl[2]);
      split_pair(s[2 * kk + 1][2], s[2 * kk + 1][3], ph[3], pl[3]);
#pragma unroll
      for (int dn = 0; dn < kD / 16; ++dn) {
        if (dn * 16 >= d) break;
        uint32_t b[4];
        ldmatrix_x4_trans(b, v_tile + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * kStride + dn * 16 + (lane >> 4) * 8);
        mma(o[2 * dn], pl, b[0], b[1]);
        mma(o[2 * dn], ph, b[0], b[1]);
        mma(o[2 * dn + 1], pl, b[2], b[3]);
        mma(o[2 * dn + 1], ph, b[2], b[3]);
      }
    }
  }

  // Each row's sum from its 4 threads; the sink joins the denominator only.
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
  }
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    if (row[i] >= rows) continue;
    const int64_t t = row[i] / group, h = g * group + row[i] % group;
    const float sink = p.sinks ? p.sinks[h] * kLog2e : -INFINITY;
    const float top = fmaxf(m[i], sink), a = exp2f(m[i] - top);
    const float f = a / (l[i] * a + (p.sinks ? exp2f(sink - top) : 0.0f));
    float* orow = out + (t * p.heads + h) * d;
#pragma unroll
    for (int dt = 0; dt < kD / 8; ++dt) {
      const int c = dt * 8 + 2 * tig;
      if (c < d) orow[c] = o[dt][2 * i] * f, orow[c + 1] = o[dt][2 * i + 1] * f;
    }
  }
}

template <int kD>
void launch(const DeviceKV& kv, const float* q, float* out, int64_t n, int64_t pos0, const DeviceSeq* seqs,
            int64_t count, const DeviceAttention& p, cudaStream_t stream) {
  constexpr size_t bytes = kSharedBytes<kD>;
  static const cudaError_t opted_in = cudaFuncSetAttribute(
      flash_attention_kernel<kD>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  check(opted_in, "flash attention: shared memory");
  const int64_t tiles = (n * (p.heads / p.kv_heads) + kRows - 1) / kRows;
  const dim3 grid(unsigned(p.kv_heads), unsigned(tiles), unsigned(count));
  flash_attention_kernel<kD><<<grid, kThreads, bytes, stream>>>(kv, q, out, n, pos0, seqs, p);
  check_launch("flash_attention");
}

// The device's shared memory per block (opted in): 227 KiB on Hopper, 99 KiB
// on some later GPUs, where head_dim 256 (~100 KiB) stays on the per-token kernel.
size_t shared_limit() {
  static const size_t limit = [] {
    int device = 0, bytes = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
      cudaGetLastError();  // not left for the next launch check
      return size_t(0);
    }
    return size_t(bytes);
  }();
  return limit;
}

}  // namespace

bool flash_attention_fits(const DeviceAttention& p, int kv_type, int64_t n) {
  if (n < kFlashMinTokens || (kv_type != kKVF16 && kv_type != kKVQ8)) return false;
  if (p.head_dim <= 0 || p.head_dim % 16 != 0 || p.head_dim > kMaxHeadDim) return false;
  if (p.kv_heads <= 0 || p.heads % p.kv_heads != 0 || p.kv_heads > 65535) return false;
  if ((n * (p.heads / p.kv_heads) + kRows - 1) / kRows > 65535) return false;  // grid.y
  const size_t bytes = p.head_dim <= 64 ? kSharedBytes<64> : p.head_dim <= 128 ? kSharedBytes<128> : kSharedBytes<256>;
  return bytes <= shared_limit();
}

void flash_attention(const DeviceKV& kv, const float* q, float* out, int64_t n, int64_t pos0, const DeviceSeq* seqs,
                     int64_t count, const DeviceAttention& p, cudaStream_t stream) {
  if (n == 0 || count == 0) return;
  if (p.head_dim <= 64)
    launch<64>(kv, q, out, n, pos0, seqs, count, p, stream);
  else if (p.head_dim <= 128)
    launch<128>(kv, q, out, n, pos0, seqs, count, p, stream);
  else
    launch<256>(kv, q, out, n, pos0, seqs, count, p, stream);
}

}  // namespace allm::cuda
