// Attention of new tokens over a paged KV cache: one block per (token, group
// of kG query heads that share a KV head), its warps splitting the visible
// positions; each warp keeps an online softmax per head (running max, sum
// and weighted value sum, kPer head_dim elements per lane), and the warps'
// states merge at the end with the sink logit (gpt-oss) as one more term.
// F32, F16 and Q8_0 rows are read in place. Prefill over F16 / Q8_0 rows goes
// to flash_attention.cu instead.
//
// The shapes (launch_attention): while one block per (token, head) fits the
// GPU at once, kG = 1 and 16 warps (decode has one block per head, and short
// per-warp loops hide less latency). Past that, as for the decode of 32
// sequences (1,024 blocks of one head), a block takes every query head of a
// KV head (up to 8): each key and value row is read once for the group, not
// once per head, and each position's kG dot products and softmax updates
// overlap in one warp.
#include <cmath>

#include "int8_blocks.cuh"
#include "kernels.hpp"
#include "pdl.cuh"
#include "kv_format.cuh"

namespace allm::cuda {
namespace {

// seqs: null (one sequence: the other arguments), or a device array of
// sequences, blockIdx.z picking one. blockIdx.y: query heads [kG y, kG y + kG).
template <int kWarps, int kG, int kPer>
__global__ void __launch_bounds__(kWarps * 32) attention_kernel(DeviceKV kv, const float* __restrict__ q,
                                                                 float* __restrict__ out, int64_t pos0,
                                                                 const DeviceSeq* __restrict__ seqs,
                                                                 DeviceAttention p, int8_t* codes, float2* ds) {
  pdl_enter();
  int64_t code0 = 0;
  if (seqs) {
    const DeviceSeq& sq = seqs[blockIdx.z];
    if (blockIdx.x >= sq.n) return;  // the whole block
    kv = sq.kv, q = sq.a, out = sq.out, pos0 = sq.pos0, code0 = sq.code0;
  }
  const int64_t t = blockIdx.x, h0 = int64_t(blockIdx.y) * kG, d = p.head_dim;
  const int64_t g = h0 / (p.heads / p.kv_heads), pos = pos0 + t;
  const int64_t first = p.window > 0 ? (pos - p.window + 1 > 0 ? pos - p.window + 1 : 0) : 0;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float qv[kG][kPer], acc[kG][kPer], m[kG], l[kG];
#pragma unroll
  for (int hh = 0; hh < kG; ++hh) {
    const float* qh = q + (t * p.heads + h0 + hh) * d;
#pragma unroll
    for (int i = 0; i < kPer; ++i) {
      const int64_t c = lane + 32 * i;
      qv[hh][i] = c < d ? qh[c] : 0.0f;
      acc[hh][i] = 0;
    }
    m[hh] = -INFINITY, l[hh] = 0;
  }
  for (int64_t j = first + warp; j <= pos; j += kWarps) {
    const uint8_t* base = kv.blocks[j / kv.block] + g * kv.head_stride + (j % kv.block) * kv.row_bytes;
    const uint8_t *key = base + kv.k_offset, *value = base + kv.v_offset;
    float kx[kPer], vx[kPer], s[kG];
#pragma unroll
    for (int i = 0; i < kPer; ++i) {
      const int64_t c = lane + 32 * i;
      kx[i] = c < d ? kv_load(key, kv.type, d, c) : 0.0f;
      vx[i] = c < d ? kv_load(value, kv.type, d, c) : 0.0f;
    }
#pragma unroll
    for (int hh = 0; hh < kG; ++hh) {
      s[hh] = 0;
#pragma unroll
      for (int i = 0; i < kPer; ++i) s[hh] += qv[hh][i] * kx[i];
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
#pragma unroll
      for (int hh = 0; hh < kG; ++hh) s[hh] += __shfl_xor_sync(0xffffffffu, s[hh], o);
#pragma unroll
    for (int hh = 0; hh < kG; ++hh) {
      float sc = s[hh] * p.scale;
      if (p.softcap > 0) sc = p.softcap * tanhf(sc / p.softcap);
      const float mn = fmaxf(m[hh], sc), corr = expf(m[hh] - mn), w = expf(sc - mn);
      l[hh] = l[hh] * corr + w;
#pragma unroll
      for (int i = 0; i < kPer; ++i) acc[hh][i] = acc[hh][i] * corr + w * vx[i];
      m[hh] = mn;
    }
  }
  __shared__ float sm[kWarps][kG], sl[kWarps][kG];
  __shared__ float sacc[kWarps][kG][kPer * 32];
#pragma unroll
  for (int hh = 0; hh < kG; ++hh) {
    if (lane == 0) sm[warp][hh] = m[hh], sl[warp][hh] = l[hh];
#pragma unroll
    for (int i = 0; i < kPer; ++i) sacc[warp][hh][lane + 32 * i] = acc[hh][i];
  }
  __syncthreads();
  // With codes, d is a multiple of 32: every warp in the loop is whole, and its 32 values are one block of one head.
  for (int64_t e = threadIdx.x; e < kG * d; e += kWarps * 32) {
    const int hh = int(e / d);
    const int64_t c = e % d, h = h0 + hh;
    float mx = p.sinks ? p.sinks[h] : -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, sm[w][hh]);
    float total = p.sinks ? expf(p.sinks[h] - mx) : 0.0f, v = 0;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float f = sl[w][hh] > 0 ? expf(sm[w][hh] - mx) : 0.0f;
      total += sl[w][hh] * f;
      v += sacc[w][hh][c] * f;
    }
    v /= total;
    out[(t * p.heads + h) * d + c] = v;
    const int64_t e0 = code0 + (t * p.heads + h) * d + c;
    if (codes) quantize_block32(v, lane, codes + e0, ds + e0 / 32);
  }
}

template <int kWarps, int kG, int kPer>
void launch_shape(const DeviceKV& kv, const float* q, float* out, int64_t n, int64_t pos0, const DeviceSeq* seqs,
                  int64_t count, const DeviceAttention& p, cudaStream_t stream, int8_t* codes, float2* ds) {
  const dim3 grid(unsigned(n), unsigned(p.heads / kG), unsigned(count));
  launch_chained(attention_kernel<kWarps, kG, kPer>, grid, kWarps * 32, stream, kv, q, out, pos0, seqs, p, codes, ds);
}

// The query heads a block takes when grouping: the most (8, 4, 2) that
// divide the heads per KV head, within 32 registers of query and sums a lane
// (8 only for head_dim up to 128).
template <int kPer>
void launch_grouped(const DeviceKV& kv, const float* q, float* out, int64_t n, int64_t pos0, const DeviceSeq* seqs,
                    int64_t count, const DeviceAttention& p, cudaStream_t stream, int8_t* codes, float2* ds) {
  const int64_t group = p.heads / p.kv_heads;
  if constexpr (8 * kPer <= 32) {
    if (group % 8 == 0) return launch_shape<8, 8, kPer>(kv, q, out, n, pos0, seqs, count, p, stream, codes, ds);
  }
  if (group % 4 == 0) launch_shape<8, 4, kPer>(kv, q, out, n, pos0, seqs, count, p, stream, codes, ds);
  else if (group % 2 == 0) launch_shape<8, 2, kPer>(kv, q, out, n, pos0, seqs, count, p, stream, codes, ds);
  else launch_shape<4, 1, kPer>(kv, q, out, n, pos0, seqs, count, p, stream, codes, ds);
}

void launch_attention(const DeviceKV& kv, const float* q, float* out, int64_t n, int64_t pos0, const DeviceSeq* seqs,
                      int64_t count, const DeviceAttention& p, cudaStream_t stream, int8_t* codes, float2* ds) {
  if (n == 0 || count == 0) return;
  if (p.head_dim > kMaxHeadDim || p.heads % p.kv_heads != 0)
    check(cudaErrorInvalidValue, "attention: head_dim over 256 or heads not a multiple of kv_heads");
  const bool flash = flash_attention_fits(p, seqs ? p.kv_type : kv.type, n);
  if (codes && (flash || p.head_dim % 32 != 0))
    check(cudaErrorInvalidValue, "attention: int8 codes of the output on the flash path or of heads not whole blocks");
  if (flash) {  // prefill: the tensor cores
    flash_attention(kv, q, out, n, pos0, seqs, count, p, stream);
    return;
  }
  // One block per (token, head) with 16 warps while they fit the GPU at once
  // (4 blocks of 512 threads an SM); beyond, the heads of a KV head together.
  const bool wide = p.head_dim > 128;
  const int64_t blocks = n * p.heads * count;
  if (n <= 4 && blocks <= 4 * int64_t(multiprocessors())) {
    if (wide) launch_shape<16, 1, 8>(kv, q, out, n, pos0, seqs, count, p, stream, codes, ds);
    else launch_shape<16, 1, 4>(kv, q, out, n, pos0, seqs, count, p, stream, codes, ds);
  } else if (wide) {
    launch_grouped<8>(kv, q, out, n, pos0, seqs, count, p, stream, codes, ds);
  } else {
    launch_grouped<4>(kv, q, out, n, pos0, seqs, count, p, stream, codes, ds);
  }
  check_launch("attention");
}

}  // namespace

void attention(const DeviceKV& kv, const float* q, float* out, int64_t n, int64_t pos0, const DeviceAttention& p,
               cudaStream_t stream) {
  launch_attention(kv, q, out, n, pos0, nullptr, 1, p, stream, nullptr, nullptr);
}

void attention_seqs(const DeviceSeq* seqs, int64_t count, int64_t max_n, const DeviceAttention& p, cudaStream_t stream,
                    int8_t* codes, float2* ds) {
  launch_attention(DeviceKV{}, nullptr, nullptr, max_n, 0, seqs, count, p, stream, codes, ds);
}

}  // namespace allm::cuda
