// KV append: the new tokens' key and value rows encoded into their cache
// blocks. One block per (token, kv head), one thread per value; for Q8_0
// each warp is one group of 32 and finds its absolute maximum by shuffles.
#include "kernels.hpp"
#include "pdl.cuh"
#include "kv_format.cuh"

namespace allm::cuda {
namespace {

__device__ void encode(const float* src, int64_t d, int type, uint8_t* dst) {
  const int c = threadIdx.x;
  const float x = c < d ? src[c] : 0.0f;
  if (type == kKVF32) {
    if (c < d) reinterpret_cast<float*>(dst)[c] = x;
  } else if (type == kKVF16) {
    if (c < d) reinterpret_cast<uint16_t*>(dst)[c] = kv_f16_bits(x);
  } else {
    float amax = fabsf(x);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    const float scale = amax / 127.0f, inv = scale > 0 ? 1.0f / scale : 0.0f;
    const int64_t groups = (d + kKVGroup - 1) / kKVGroup;
    if (c < d) {
      if ((c & 31) == 0) reinterpret_cast<float*>(dst)[c / kKVGroup] = scale;
      reinterpret_cast<int8_t*>(dst + 4 * groups)[c] = int8_t(__float2int_rn(x * inv));
    }
  }
}

// seqs: null (one sequence: the other arguments) or a device array, blockIdx.z picking one.
__global__ void kv_append_kernel(DeviceKV kv, const float* k, const float* v, int64_t pos0, const DeviceSeq* seqs,
                                 int64_t kv_heads, int64_t d) {
  pdl_trigger();
  const int64_t t = blockIdx.x / kv_heads, g = blockIdx.x % kv_heads;
  if (seqs) {
    const DeviceSeq& sq = seqs[blockIdx.z];
    if (t >= sq.n) return;
    kv = sq.kv, k = sq.a, v = sq.b, pos0 = sq.pos0;
  }
  const int64_t pos = pos0 + t;
  uint8_t* row = const_cast<uint8_t*>(kv.blocks[pos / kv.block]) + g * kv.head_stride + (pos % kv.block) * kv.row_bytes;
  const int64_t src = (t * kv_heads + g) * d;
  encode(k + src, d, kv.type, row + kv.k_offset);
  encode(v + src, d, kv.type, row + kv.v_offset);
}

void launch_kv_append(const DeviceKV& kv, const float* k, const float* v, int64_t n, int64_t pos0,
                      const DeviceSeq* seqs, int64_t count, int64_t kv_heads, int64_t head_dim, cudaStream_t stream) {
  if (n == 0 || count == 0) return;
  if (head_dim > 1024) check(cudaErrorInvalidValue, "kv_append: head_dim over 1024");
  const unsigned threads = unsigned((head_dim + 31) / 32 * 32);
  kv_append_kernel<<<dim3(unsigned(n * kv_heads), 1, unsigned(count)), threads, 0, stream>>>(kv, k, v, pos0, seqs,
                                                                                            kv_heads, head_dim);
  check_launch("kv_append");
}

}  // namespace

void kv_append(const DeviceKV& kv, const float* k, const float* v, int64_t n, int64_t pos0, int64_t kv_heads,
               int64_t head_dim, cudaStream_t stream) {
  launch_kv_append(kv, k, v, n, pos0, nullptr, 1, kv_heads, head_dim, stream);
}

void kv_append_seqs(const DeviceSeq* seqs, int64_t count, int64_t max_n, int64_t kv_heads, int64_t head_dim,
                    cudaStream_t stream) {
  launch_kv_append(DeviceKV{}, nullptr, nullptr, max_n, 0, seqs, count, kv_heads, head_dim, stream);
}

}  // namespace allm::cuda
