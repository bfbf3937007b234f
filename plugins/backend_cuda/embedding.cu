// Embedding lookup: row ids[t] of the table, decoded (any stored format) and
// scaled; one thread per 32-element slice.
#include "kernels.hpp"
#include "pdl.cuh"
#include "weight_decode.cuh"

namespace allm::cuda {
namespace {

template <WFormat F>
__global__ void embedding_kernel(DeviceWeight table, const int32_t* __restrict__ ids, int64_t n, float* out,
                                 float scale) {
  pdl_trigger();
  const int64_t slices = slices_of(table);
  const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (id >= n * slices) return;
  const int64_t t = id / slices, s = id % slices;
  float v[32];
  decode_slice<F>(table, ids[t], s, v);
  float* o = out + t * table.cols + s * 32;
#pragma unroll
  for (int i = 0; i < 32; ++i)
    if (s * 32 + i < table.cols) o[i] = scale != 1.0f ? v[i] * scale : v[i];
}

}  // namespace

void embedding(const DeviceWeight& table, const int32_t* ids, int64_t n, float* out, float scale,
               cudaStream_t stream) {
  const int64_t total = n * slices_of(table);
  if (total == 0) return;
  with_format(table.format, [&](auto f) {
    embedding_kernel<decltype(f)::value><<<unsigned((total + 127) / 128), 128, 0, stream>>>(table, ids, n, out, scale);
  });
  check_launch("embedding");
}

}  // namespace allm::cuda
