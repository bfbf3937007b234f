// Elementwise ops on activations: the gated MLP activations (as the CPU
// computes them: expf/tanhf, no fast-math approximations), y += x, x *= f,
// x = cap * tanh(x / cap).
#include "int8_blocks.cuh"
#include "kernels.hpp"
#include "pdl.cuh"

namespace allm::cuda {
namespace {

__global__ void gated_kernel(const float* gate, const float* up, int64_t count, int act, float* out, float limit,
                             int8_t* q, float2* ds) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const float g = gate[i], u = up[i];
  float r;
  if (act == 0) {
    r = g / (1.0f + expf(-g)) * u;
  } else if (act == 2) {
    const float gc = fminf(g, limit), uc = fminf(fmaxf(u, -limit), limit);
    r = gc / (1.0f + expf(-1.702f * gc)) * (uc + 1.0f);
  } else {
    r = 0.5f * g * (1.0f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g))) * u;
  }
  out[i] = r;
  // count is a multiple of 32 when q is set: whole warps, whole blocks.
  if (q) quantize_block32(r, int(threadIdx.x & 31), q + i, ds + i / 32);
}

__global__ void add_kernel(float* y, const float* x, int64_t count) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) y[i] += x[i];
}

__global__ void scale_kernel(float* x, int64_t count, float factor) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) x[i] *= factor;
}

__global__ void softcap_kernel(float* x, int64_t count, float cap) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) x[i] = cap * tanhf(x[i] / cap);
}

unsigned blocks_for(int64_t count) { return unsigned((count + 255) / 256); }

}  // namespace

void gated_activation(const float* gate, const float* up, int64_t count, int act, float* out, float limit,
                      cudaStream_t stream, int8_t* q, float2* ds) {
  if (count == 0) return;
  if (q && count % 32 != 0) check(cudaErrorInvalidValue, "gated_activation: int8 codes of a partial block of 32");
  launch_chained(gated_kernel, blocks_for(count), 256, stream, gate, up, count, act, out, limit, q, ds);
  check_launch("gated_activation");
}

void add(float* y, const float* x, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  launch_chained(add_kernel, blocks_for(count), 256, stream, y, x, count);
  check_launch("add");
}

void scale(float* x, int64_t count, float factor, cudaStream_t stream) {
  if (count == 0) return;
  launch_chained(scale_kernel, blocks_for(count), 256, stream, x, count, factor);
  check_launch("scale");
}

void softcap(float* x, int64_t count, float cap, cudaStream_t stream) {
  if (count == 0) return;
  launch_chained(softcap_kernel, blocks_for(count), 256, stream, x, count, cap);
  check_launch("softcap");
}

}  // namespace allm::cuda
