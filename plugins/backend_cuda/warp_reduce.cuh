#pragma once
// A value summed (or its maximum taken) over the 32 lanes of a warp, in every
// lane: the butterfly of __shfl_xor_sync, so every kernel that reduces a warp
// adds in the same order.
#include <cuda_runtime.h>

namespace allm::cuda {

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace allm::cuda
