#pragma once
// Pieces of the int8 kernels' block decoding shared by the GEMV
// (gemv_int8.cu) and the tensor-core GEMM (gemm_int8.cu): aligned 16-byte
// loads, Q4_K's nibbles and its packed scales read from the block's header
// in registers, Q6_K's 6-bit codes from its split ql / qh bytes.
#include <cstdint>

#include <cuda_fp16.h>

#include "warp_reduce.cuh"

namespace allm::cuda {

// One block of 32 activations quantised as the int8 kernels read them (a
// warp, lane i holding element i): codes c = round(v / d) with d = max|v| /
// 127, and ds = (d, d * sum of codes). quantize_q8 and the ops that write
// their output's codes as well (rms_norm, gated_activation) share it, so
// every path rounds alike.
__device__ __forceinline__ void quantize_block32(float v, int lane, int8_t* code, float2* ds) {
  const float amax = warp_max(fabsf(v));
  const float d = amax / 127.0f, inv = d > 0 ? 1.0f / d : 0.0f;
  const int c = __float2int_rn(v * inv);
  *code = int8_t(c);
  const int sum = warp_sum(c);
  if (lane == 0) *ds = make_float2(d, d * float(sum));
}

__device__ __forceinline__ uint4 load16(const void* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }

// The low (shift 0) or high (shift 4) nibbles of 16 bytes, one per byte.
__device__ __forceinline__ uint4 nibbles(uint4 v, int shift) {
  return make_uint4((v.x >> shift) & 0x0F0F0F0Fu, (v.y >> shift) & 0x0F0F0F0Fu, (v.z >> shift) & 0x0F0F0F0Fu,
                    (v.w >> shift) & 0x0F0F0F0Fu);
}

// Q4_K's 16-byte header (d, dmin, 12 bytes of packed six-bit scales and
// mins) in registers: byte i of the packed scales.
__device__ __forceinline__ int q4k_scale_byte(uint4 head, int i) {
  const uint32_t word = i < 4 ? head.y : i < 8 ? head.z : head.w;
  return int((word >> (8 * (i & 3))) & 0xFF);
}
// k4_scale_min of weight_decode.cuh on the registers: scale and min of sub-block j (0..7).
__device__ __forceinline__ void q4k_scale_min(uint4 head, int j, int& sc, int& m) {
  if (j < 4) {
    sc = q4k_scale_byte(head, j) & 63;
    m = q4k_scale_byte(head, j + 4) & 63;
  } else {
    sc = (q4k_scale_byte(head, j + 4) & 0xF) | ((q4k_scale_byte(head, j - 4) >> 6) << 4);
    m = (q4k_scale_byte(head, j + 4) >> 4) | ((q4k_scale_byte(head, j) >> 6) << 4);
  }
}
__device__ __forceinline__ float q4k_d(uint4 head) { return __half2float(__ushort_as_half(uint16_t(head.x & 0xFFFF))); }
__device__ __forceinline__ float q4k_dmin(uint4 head) { return __half2float(__ushort_as_half(uint16_t(head.x >> 16))); }

// Q6_K: four codes of quarter k (0..3) of a 128-element half-block as
// signed bytes (code - 32), from a word of ql (ql[l] for k = 0, 2;
// ql[l + 32] for k = 1, 3: the caller picks) and the word of qh at l.
__device__ __forceinline__ uint32_t q6k_codes(uint32_t l, uint32_t h, int k) {
  const uint32_t low = (l >> (4 * (k >> 1))) & 0x0F0F0F0Fu;
  const uint32_t high = ((h >> (2 * k)) & 0x03030303u) << 4;
  return __vsub4(low | high, 0x20202020u);
}

}  // namespace allm::cuda
