// Mixture-of-experts on the device: routing (softmax over the router logits,
// top-k, optional renormalisation, one thread per token as the CPU does it)
// and the per-expert gather of routed tokens / weighted add of the expert's
// output into them.
#include <cmath>

#include "kernels.hpp"
#include "pdl.cuh"

namespace allm::cuda {
namespace {

__global__ void route_kernel(const float* logits, int64_t n, int64_t experts, int64_t k, bool renormalize,
                             int32_t* chosen, float* weights) {
  pdl_trigger();
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n) return;
  const float* r = logits + t * experts;
  float mx = -INFINITY;
  for (int64_t e = 0; e < experts; ++e) mx = fmaxf(mx, r[e]);
  double sum = 0;
  for (int64_t e = 0; e < experts; ++e) sum += expf(r[e] - mx);
  int32_t* c = chosen + t * k;
  float* w = weights + t * k;
  float picked = 0;
  for (int64_t j = 0; j < k; ++j) {
    int64_t best = -1;
    float best_p = 0;
    for (int64_t e = 0; e < experts; ++e) {
      bool taken = false;
      for (int64_t q = 0; q < j; ++q) taken |= c[q] == e;
      const float pe = float(expf(r[e] - mx) / sum);
      if (!taken && (best < 0 || pe > best_p)) best = e, best_p = pe;
    }
    c[j] = int32_t(best);
    w[j] = best_p;
    picked += best_p;
  }
  if (renormalize)
    for (int64_t j = 0; j < k; ++j) w[j] /= picked;
}

__global__ void gather_kernel(const float* src, const int32_t* rows, int64_t count, int64_t dim, float* out) {
  pdl_trigger();
  const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (id >= count * dim) return;
  const int64_t i = id / dim, c = id % dim;
  out[id] = src[int64_t(rows[i]) * dim + c];
}

__global__ void combine_kernel(const float* src, const int32_t* slots, int64_t count, int64_t dim, int64_t top_k,
                               const float* weights, float* out) {
  pdl_trigger();
  const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (id >= count * dim) return;
  const int64_t i = id / dim, c = id % dim, s = slots[i];
  out[s / top_k * dim + c] += weights[s] * src[id];
}

}  // namespace

void moe_route(const float* logits, int64_t n, int64_t experts, int64_t k, bool renormalize, int32_t* chosen,
               float* weights, cudaStream_t stream) {
  if (n == 0) return;
  route_kernel<<<unsigned((n + 63) / 64), 64, 0, stream>>>(logits, n, experts, k, renormalize, chosen, weights);
  check_launch("moe_route");
}

void gather_rows(const float* src, const int32_t* rows, int64_t count, int64_t dim, float* out,
                 cudaStream_t stream) {
  if (count * dim == 0) return;
  gather_kernel<<<unsigned((count * dim + 255) / 256), 256, 0, stream>>>(src, rows, count, dim, out);
  check_launch("gather_rows");
}

void moe_combine(const float* src, const int32_t* slots, int64_t count, int64_t dim, int64_t top_k,
                 const float* weights, float* out, cudaStream_t stream) {
  if (count * dim == 0) return;
  combine_kernel<<<unsigned((count * dim + 255) / 256), 256, 0, stream>>>(src, slots, count, dim, top_k, weights,
                                                                          out);
  check_launch("moe_combine");
}

}  // namespace allm::cuda
