// Attention of new tokens over a paged KV cache: one block per (token, query
// head), its warps splitting the visible positions (16 warps for a few new
// tokens: decode has one block per head and short per-warp loops hide less
// latency; 4 for prefill, which has blocks enough); each warp keeps an
// online softmax (running max, sum and weighted value sum, one head_dim slice
// per lane), and the warps' states merge at the end with the sink logit
// (gpt-oss) as one more term. F32, F16 and Q8_0 rows are read in place.
// Prefill over F16 / Q8_0 rows goes to flash_attention.cu instead.
#include <cmath>

#include "int8_blocks.cuh"
#include "kernels.hpp"
#include "pdl.cuh"
#include "kv_format.cuh"

namespace allm::cuda {
namespace {

constexpr int kPerLane = int(kMaxHeadDim / 32);

// seqs: null (one sequence: the other arguments), or a device array of
// sequences, blockIdx.z picking one.
template <int kWarps>
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
  const int64_t t = blockIdx.x, h = blockIdx.y, d = p.head_dim;
  const int64_t g = h / (p.heads / p.kv_heads), pos = pos0 + t;
  const int64_t first = p.window > 0 ? (pos - p.window + 1 > 0 ? pos - p.window + 1 : 0) : 0;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float* qh = q + (t * p.heads + h) * d;
  float qv[kPerLane], acc[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int64_t c = lane + 32 * i;
    qv[i] = c < d ? qh[c] : 0.0f;
    acc[i] = 0;
  }
  float m = -INFINITY, l = 0;
  for (int64_t j = first + warp; j <= pos; j += kWarps) {
    const uint8_t* base = kv.blocks[j / kv.block] + g * kv.head_stride + (j % kv.block) * kv.row_bytes;
    const uint8_t* key = base + kv.k_offset;
    float s = 0;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int64_t c = lane + 32 * i;
      if (c < d) s += qv[i] * kv_load(key, kv.type, d, c);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    s *= p.scale;
    if (p.softcap > 0) s = p.softcap * tanhf(s / p.softcap);
    const float mn = fmaxf(m, s), corr = expf(m - mn), w = expf(s - mn);
    l = l * corr + w;
    const uint8_t* value = base + kv.v_offset;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int64_t c = lane + 32 * i;
      acc[i] = acc[i] * corr + (c < d ? w * kv_load(value, kv.type, d, c) : 0.0f);
    }
    m = mn;
  }
  __shared__ float sm[kWarps], sl[kWarps];
  __shared__ float sacc[kWarps][kMaxHeadDim];
  if (lane == 0) sm[warp] = m, sl[warp] = l;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i)
    if (lane + 32 * i < d) sacc[warp][lane + 32 * i] = acc[i];
  __syncthreads();
  float mx = p.sinks ? p.sinks[h] : -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, sm[w]);
  float total = p.sinks ? expf(p.sinks[h] - mx) : 0.0f, f[kWarps];
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    f[w] = sl[w] > 0 ? expf(sm[w] - mx) : 0.0f;
    total += sl[w] * f[w];
  }
  float* o = out + (t * p.heads + h) * d;
  // With codes, d is a multiple of 32: every warp in the loop is whole, and its 32 values are one block.
  const int64_t e0 = code0 + (t * p.heads + h) * d;
  for (int64_t c = threadIdx.x; c < d; c += kWarps * 32) {
    float v = 0;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) v += sacc[w][c] * f[w];
    v /= total;
    o[c] = v;
    if (codes) quantize_block32(v, lane, codes + e0 + c, ds + (e0 + c) / 32);
  }
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
  const dim3 grid(unsigned(n), unsigned(p.heads), unsigned(count));
  // 16 warps a block while the blocks fit the GPU at once (4 blocks of 512
  // threads an SM); beyond that, as for 32 sequences' decode (1,024 blocks),
  // 4 warps, so that all of them are resident instead of running in waves
  // (H100, 8B-shaped Q4_K_M: 32 sequences 2,880 against 2,724 t/s; 8
  // sequences, 256 blocks, 1,454 with 16 warps against 1,252 with 4).
  const int64_t blocks = n * p.heads * count;
  if (n <= 4 && blocks <= 4 * int64_t(multiprocessors()))
    launch_chained(attention_kernel<16>, grid, 16 * 32, stream, kv, q, out, pos0, seqs, p, codes, ds);
  else
    launch_chained(attention_kernel<4>, grid, 4 * 32, stream, kv, q, out, pos0, seqs, p, codes, ds);
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
