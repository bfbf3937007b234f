#pragma once
// KV rows on the device, byte for byte as kv_format.cpp stores them: F32;
// F16 (round to nearest even, saturating at +-65504); Q8_0 (per 32 values an
// F32 scale amax/127, scales first, then the int8 codes).
#include <cstdint>

#include <cuda_fp16.h>

namespace allm::cuda {

constexpr int kKVF32 = 0, kKVF16 = 1, kKVQ8 = 2;
constexpr int kKVGroup = 32;

__device__ __forceinline__ uint16_t kv_f16_bits(float f) {
  if (isnan(f)) return uint16_t((__float_as_uint(f) >> 16 & 0x8000u) | 0x7e00u);
  if (fabsf(f) >= 65520.0f) return f > 0 ? uint16_t(0x7bff) : uint16_t(0xfbff);
  return __half_as_ushort(__float2half_rn(f));
}

// Element c of a stored row of d values.
__device__ __forceinline__ float kv_load(const uint8_t* row, int type, int64_t d, int64_t c) {
  if (type == kKVF32) return reinterpret_cast<const float*>(row)[c];
  if (type == kKVF16) return __half2float(__ushort_as_half(reinterpret_cast<const uint16_t*>(row)[c]));
  const int64_t groups = (d + kKVGroup - 1) / kKVGroup;
  const float scale = reinterpret_cast<const float*>(row)[c / kKVGroup];
  return scale * float(reinterpret_cast<const int8_t*>(row + 4 * groups)[c]);
}

}  // namespace allm::cuda
