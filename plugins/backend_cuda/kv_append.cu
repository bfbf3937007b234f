// KV append: the new tokens' key and value rows encoded into their cache
// blocks. One block per (token, kv head), one thread per value; for Q8_0
// each warp is one group of 32 and finds its absolute maximum by shuffles.
// With a KVRope, keys are rotated first and blocks past the appends rotate
// the queries.
#include "kernels.hpp"
#include "pdl.cuh"
#include "kv_format.cuh"
#include "rotary.cuh"
#include "warp_reduce.cuh"

namespace allm::cuda {
namespace {

// x: this thread's value (threadIdx.x < d), 0 past the row (whole warps for Q8_0's shuffles).
__device__ void encode(float x, int64_t d, int type, uint8_t* dst) {
  const int c = threadIdx.x;
  if (type == kKVF32) {
    if (c < d) reinterpret_cast<float*>(dst)[c] = x;
  } else if (type == kKVF16) {
    if (c < d) reinterpret_cast<uint16_t*>(dst)[c] = kv_f16_bits(x);
  } else {
    const float amax = warp_max(fabsf(x));
    const float scale = amax / 127.0f, inv = scale > 0 ? 1.0f / scale : 0.0f;
    const int64_t groups = (d + kKVGroup - 1) / kKVGroup;
    if (c < d) {
      if ((c & 31) == 0) reinterpret_cast<float*>(dst)[c / kKVGroup] = scale;
      reinterpret_cast<int8_t*>(dst + 4 * groups)[c] = int8_t(__float2int_rn(x * inv));
    }
  }
}

// seqs: null (one sequence: the other arguments) or a device array, blockIdx.z picking one.
// Blocks from append_blocks on: the queries' rotation (rope.table set).
__global__ void kv_append_kernel(DeviceKV kv, const float* k, const float* v, int64_t pos0, const DeviceSeq* seqs,
                                 int64_t kv_heads, int64_t d, int64_t append_blocks, KVRope rope) {
  pdl_enter();
  if (blockIdx.x >= append_blocks) {
    if (blockIdx.z != 0) return;
    const int64_t id = (int64_t(blockIdx.x) - append_blocks) * blockDim.x + threadIdx.x;
    if (id >= rope.n * rope.q_heads * rope.half) return;
    const int64_t i = id % rope.half, th = id / rope.half, t = th / rope.q_heads;
    rotate_pair(rope.q + th * d, i, rope.half, rope.interleaved, rope.table + t * 2 * rope.half);
    return;
  }
  const int64_t t = blockIdx.x / kv_heads, g = blockIdx.x % kv_heads;
  if (seqs) {
    const DeviceSeq& sq = seqs[blockIdx.z];
    if (t >= sq.n) return;
    kv = sq.kv, k = sq.a, v = sq.b, pos0 = sq.pos0;
  }
  const int64_t pos = pos0 + t;
  uint8_t* row = const_cast<uint8_t*>(kv.blocks[pos / kv.block]) + g * kv.head_stride + (pos % kv.block) * kv.row_bytes;
  const int64_t src = (t * kv_heads + g) * d, c = threadIdx.x;
  float* key = const_cast<float*>(k) + src;
  float kx;
  if (rope.table) {
    const int64_t table_row = (k - rope.k) / (kv_heads * d) + t;
    kx = c < d ? rotated_element(key, c, rope.half, rope.interleaved, rope.table + table_row * 2 * rope.half) : 0.0f;
    __syncthreads();  // every element and its partner read before any is written back
    if (c < d) key[c] = kx;
  } else {
    kx = c < d ? key[c] : 0.0f;
  }
  encode(kx, d, kv.type, row + kv.k_offset);
  encode(c < d ? v[src + c] : 0.0f, d, kv.type, row + kv.v_offset);
}

void launch_kv_append(const DeviceKV& kv, const float* k, const float* v, int64_t n, int64_t pos0,
                      const DeviceSeq* seqs, int64_t count, int64_t kv_heads, int64_t head_dim, cudaStream_t stream,
                      const KVRope& rope) {
  if (n == 0 || count == 0) return;
  if (head_dim > 1024) check(cudaErrorInvalidValue, "kv_append: head_dim over 1024");
  if (rope.table && (rope.half < 1 || 2 * rope.half > head_dim))
    check(cudaErrorInvalidValue, "kv_append: rotary dims outside the head");
  const int64_t threads = (head_dim + 31) / 32 * 32, append_blocks = n * kv_heads;
  const int64_t rope_blocks = rope.table ? (rope.n * rope.q_heads * rope.half + threads - 1) / threads : 0;
  launch_chained(kv_append_kernel, dim3(unsigned(append_blocks + rope_blocks), 1, unsigned(count)), unsigned(threads),
                 stream, kv, k, v, pos0, seqs, kv_heads, head_dim, append_blocks, rope);
  check_launch("kv_append");
}

}  // namespace

void kv_append(const DeviceKV& kv, const float* k, const float* v, int64_t n, int64_t pos0, int64_t kv_heads,
               int64_t head_dim, cudaStream_t stream) {
  launch_kv_append(kv, k, v, n, pos0, nullptr, 1, kv_heads, head_dim, stream, KVRope{});
}

void kv_append_seqs(const DeviceSeq* seqs, int64_t count, int64_t max_n, int64_t kv_heads, int64_t head_dim,
                    cudaStream_t stream, const KVRope& rope) {
  launch_kv_append(DeviceKV{}, nullptr, nullptr, max_n, 0, seqs, count, kv_heads, head_dim, stream, rope);
}

}  // namespace allm::cuda
