// Rotary embedding: the cos/sin table of a call's positions, and the rotation
// in place, one thread per (token, head, frequency) pair of dims, NeoX halves
// (i, i + rotary/2) or interleaved pairs (2i, 2i + 1).
#include "kernels.hpp"
#include "pdl.cuh"
#include "rotary.cuh"

namespace allm::cuda {
namespace {

__global__ void rope_table_kernel(const int64_t* positions, int64_t n, const float* inv_freq, int64_t half,
                                  float attention_scale, float* table) {
  pdl_trigger();
  const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (id >= n * half) return;
  const int64_t t = id / half, i = id % half;
  const float angle = float(positions[t]) * inv_freq[i];
  table[t * 2 * half + i] = cosf(angle) * attention_scale;
  table[t * 2 * half + half + i] = sinf(angle) * attention_scale;
}

// Rotates x (rows of x_heads heads) and then, past x's pairs, y (rows of
// y_heads heads; none when y_heads is 0): a decoder's q and k in one launch.
__global__ void rope_kernel(float* x, int64_t x_heads, float* y, int64_t y_heads, int64_t n, int64_t head_dim,
                            int64_t half, bool interleaved, const float* __restrict__ table) {
  pdl_enter();
  int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t heads = x_heads;
  if (id >= n * x_heads * half) {
    id -= n * x_heads * half;
    if (id >= n * y_heads * half) return;
    x = y, heads = y_heads;
  }
  const int64_t i = id % half, th = id / half, t = th / heads;
  rotate_pair(x + th * head_dim, i, half, interleaved, table + t * 2 * half);
}

}  // namespace

void rope_table(const int64_t* positions, int64_t n, const float* inv_freq, int64_t rotary_dim,
                float attention_scale, float* table, cudaStream_t stream) {
  const int64_t half = rotary_dim / 2;
  if (n * half == 0) return;
  // Launched the ordinary way: it follows the upload of the positions (a copy, not a kernel).
  rope_table_kernel<<<unsigned((n * half + 255) / 256), 256, 0, stream>>>(positions, n, inv_freq, half,
                                                                          attention_scale, table);
  check_launch("rope_table");
}

void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, int64_t rotary_dim, bool interleaved,
          const float* table, cudaStream_t stream) {
  rope_pair(x, heads, nullptr, 0, n, head_dim, rotary_dim, interleaved, table, stream);
}

void rope_pair(float* x, int64_t x_heads, float* y, int64_t y_heads, int64_t n, int64_t head_dim, int64_t rotary_dim,
               bool interleaved, const float* table, cudaStream_t stream) {
  const int64_t half = rotary_dim / 2, total = n * (x_heads + y_heads) * half;
  if (total == 0) return;
  launch_chained(rope_kernel, unsigned((total + 255) / 256), 256, stream, x, x_heads, y, y_heads, n, head_dim, half,
                 interleaved, table);
  check_launch("rope");
}

}  // namespace allm::cuda
