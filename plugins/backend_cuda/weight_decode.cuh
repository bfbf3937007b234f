#pragma once
// How the kernels read a weight matrix on the device: every stored format
// (the CPU's, sdk/src/gguf/blocks.hpp and formats_mlx.cpp) is decoded 32
// consecutive elements of one row at a time ("a slice"), straight from the
// bytes uploaded at load. Block formats keep ggml's layout bit for bit; MLX
// affine keeps its packed codes, its scales and biases widened to F32 at
// upload. The GEMV, the GEMM tile loader and the embedding gather all go
// through decode_slice, so a format is one case here.
#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "device_weight.hpp"

namespace allm::cuda {

__device__ __forceinline__ float half_at(const uint8_t* p) {
  const uint16_t bits = uint16_t(p[0]) | uint16_t(p[1]) << 8;
  return __half2float(__ushort_as_half(bits));
}

// ggml's E2M1 values doubled (0, 1, 2, 3, 4, 6, 8, 12 and negatives; the
// block scale is halved to match), computed rather than looked up in a table
// that would live in local memory.
__device__ __forceinline__ float mxfp4_value(int code) {
  const int m = code & 7;
  const int mag = m < 4 ? m : (2 + (m & 1)) << ((m >> 1) - 1);
  return float(code & 8 ? -mag : mag);
}
__device__ __forceinline__ float mxfp4_half_scale(uint8_t e) {
  const uint32_t bits = e < 2 ? uint32_t(0x00200000) << e : uint32_t(e - 1) << 23;
  return __uint_as_float(bits);
}

// Q4_K / Q5_K: six-bit scale and min j of 8, packed in 12 bytes.
__device__ __forceinline__ void k4_scale_min(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q3_K: six-bit scale i of 16 (offset by -32), packed in 12 bytes.
__device__ __forceinline__ int q3k_scale(const uint8_t* s, int i) {
  const int low = i < 8 ? (s[i] & 0xF) : (s[i - 8] >> 4);
  const int high = (s[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
  return (low | (high << 4)) - 32;
}

// Elements [32*slice, 32*slice + 32) of row `row` into v. Columns past the
// row's end (plain formats only; block rows are whole blocks) read as 0. A
// template on the format: each kernel instance holds one decoder only (fewer
// registers, more warps in flight).
template <WFormat F>
__device__ __forceinline__ void decode_slice(const DeviceWeight& w, int64_t row, int64_t slice, float v[32]) {
  const uint8_t* r = w.data + row * w.row_bytes;
  const int64_t c0 = slice * 32;
  if constexpr (F == WFormat::f32) {
    const float* p = reinterpret_cast<const float*>(r) + c0;
    if (c0 + 32 <= w.cols && (w.cols & 3) == 0) {
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float4 q = reinterpret_cast<const float4*>(p)[i];
        v[4 * i] = q.x, v[4 * i + 1] = q.y, v[4 * i + 2] = q.z, v[4 * i + 3] = q.w;
      }
    } else {
#pragma unroll
      for (int i = 0; i < 32; ++i) v[i] = c0 + i < w.cols ? p[i] : 0.0f;
    }
  } else if constexpr (F == WFormat::f16 || F == WFormat::bf16) {
    const uint16_t* p = reinterpret_cast<const uint16_t*>(r) + c0;
    constexpr bool half = F == WFormat::f16;
    if (c0 + 32 <= w.cols && (w.cols & 7) == 0) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const uint4 q = reinterpret_cast<const uint4*>(p)[i];
        const uint32_t words[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const uint16_t lo = uint16_t(words[k] & 0xFFFF), hi = uint16_t(words[k] >> 16);
          v[8 * i + 2 * k] = half ? __half2float(__ushort_as_half(lo)) : __uint_as_float(uint32_t(lo) << 16);
          v[8 * i + 2 * k + 1] = half ? __half2float(__ushort_as_half(hi)) : __uint_as_float(uint32_t(hi) << 16);
        }
      }
    } else {
#pragma unroll
      for (int i = 0; i < 32; ++i) {
        const uint16_t b = c0 + i < w.cols ? p[i] : 0;
        v[i] = half ? __half2float(__ushort_as_half(b)) : __uint_as_float(uint32_t(b) << 16);
      }
    }
  } else if constexpr (F == WFormat::mlx) {
    // 32 codes of `bits` bits are exactly `bits` 32-bit words.
    const uint32_t* words = reinterpret_cast<const uint32_t*>(r) + slice * w.bits;
    const int64_t groups = w.cols / w.group_size;
    const float* sc = w.scales + row * groups;
    const float* bi = w.biases + row * groups;
    const uint32_t mask = (1u << w.bits) - 1u;
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      const int bit = i * w.bits, word = bit >> 5, shift = bit & 31;
      uint64_t x = words[word] >> shift;
      if (shift + w.bits > 32) x |= uint64_t(words[word + 1]) << (32 - shift);
      const int64_t g = (c0 + i) / w.group_size;
      v[i] = sc[g] * float(uint32_t(x) & mask) + bi[g];
    }
  } else if constexpr (F == WFormat::q4_0) {
    const uint8_t* b = r + slice * 18;
    const float d = half_at(b);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      v[j] = d * float((b[2 + j] & 0xF) - 8);
      v[j + 16] = d * float((b[2 + j] >> 4) - 8);
    }
  } else if constexpr (F == WFormat::q4_1) {
    const uint8_t* b = r + slice * 20;
    const float d = half_at(b), m = half_at(b + 2);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      v[j] = d * float(b[4 + j] & 0xF) + m;
      v[j + 16] = d * float(b[4 + j] >> 4) + m;
    }
  } else if constexpr (F == WFormat::q5_0 || F == WFormat::q5_1) {
    constexpr bool one = F == WFormat::q5_1;
    const uint8_t* b = r + slice * (one ? 24 : 22);
    const float d = half_at(b), m = one ? half_at(b + 2) : 0.0f;
    const uint8_t* hb = b + (one ? 4 : 2);
    const uint32_t qh = uint32_t(hb[0]) | uint32_t(hb[1]) << 8 | uint32_t(hb[2]) << 16 | uint32_t(hb[3]) << 24;
    const uint8_t* qs = hb + 4;
    const int off = one ? 0 : 16;
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0xF) | (((qh >> j) & 1) << 4);
      const int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      v[j] = d * float(lo - off) + m;
      v[j + 16] = d * float(hi - off) + m;
    }
  } else if constexpr (F == WFormat::q8_0) {
    const uint8_t* b = r + slice * 34;
    const float d = half_at(b);
#pragma unroll
    for (int j = 0; j < 32; ++j) v[j] = d * float(int8_t(b[2 + j]));
  } else if constexpr (F == WFormat::q8_0_split) {  // the row's codes, then its scales
    const uint8_t* q = r + c0;
    const float d = half_at(r + w.cols + 2 * slice);
#pragma unroll
    for (int j = 0; j < 32; ++j) v[j] = d * float(int8_t(q[j]));
  } else if constexpr (F == WFormat::mxfp4) {
    const uint8_t* b = r + slice * 17;
    const float d = mxfp4_half_scale(b[0]);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      v[j] = mxfp4_value(b[1 + j] & 0xF) * d;
      v[j + 16] = mxfp4_value(b[1 + j] >> 4) * d;
    }
  } else if constexpr (F == WFormat::q2_k) {  // 84 bytes: scales[16], qs[64], d, dmin
    const uint8_t* b = r + (slice >> 3) * 84;
    const int s = int(slice & 7), n = s >> 2, shift = 2 * (s & 3);
    const float d = half_at(b + 80), dmin = half_at(b + 82);
    const uint8_t* q = b + 16 + 32 * n;
#pragma unroll
    for (int l = 0; l < 32; ++l) {
      const int sc = b[8 * n + 2 * (s & 3) + (l >> 4)];
      v[l] = d * float(sc & 0xF) * float((q[l] >> shift) & 3) - dmin * float(sc >> 4);
    }
  } else if constexpr (F == WFormat::q3_k) {  // 110 bytes: hmask[32], qs[64], scales[12], d
    const uint8_t* b = r + (slice >> 3) * 110;
    const int s = int(slice & 7), n = s >> 2, shift = 2 * (s & 3);
    const float d = half_at(b + 108);
    const uint8_t* q = b + 32 + 32 * n;
    const int m = 1 << (4 * n + (s & 3));
    const float d0 = d * float(q3k_scale(b + 96, 8 * n + 2 * (s & 3)));
    const float d1 = d * float(q3k_scale(b + 96, 8 * n + 2 * (s & 3) + 1));
#pragma unroll
    for (int l = 0; l < 32; ++l) {
      const int code = ((q[l] >> shift) & 3) - ((b[l] & m) ? 0 : 4);
      v[l] = (l < 16 ? d0 : d1) * float(code);
    }
  } else if constexpr (F == WFormat::q4_k || F == WFormat::q5_k) {  // d, dmin, scales[12], (qh[32],) qs[128]
    constexpr bool five = F == WFormat::q5_k;
    const uint8_t* b = r + (slice >> 3) * (five ? 176 : 144);
    const int s = int(slice & 7);
    const float d = half_at(b), dmin = half_at(b + 2);
    int sc, mn;
    k4_scale_min(s, b + 4, sc, mn);
    const float dl = d * float(sc), ml = dmin * float(mn);
    const uint8_t* qh = b + 16;
    const uint8_t* q = b + (five ? 48 : 16) + 32 * (s >> 1);
    const int shift = 4 * (s & 1);
#pragma unroll
    for (int l = 0; l < 32; ++l) {
      int code = (q[l] >> shift) & 0xF;
      if (five) code += ((qh[l] >> s) & 1) << 4;
      v[l] = dl * float(code) - ml;
    }
  } else {  // q6_k: ql[128], qh[64], scales[16] (int8), d; split: each part of every block together
    const int64_t blk = slice >> 3, nb = w.cols / 256;
    constexpr bool split = F == WFormat::q6_k_split;
    const uint8_t* b = r + blk * 210;
    const int s = int(slice & 7), n = s >> 2, k = s & 3;
    const float d = half_at(split ? r + 208 * nb + 2 * blk : b + 208);
    const uint8_t* ql = (split ? r + 128 * blk : b) + 64 * n + 32 * (k & 1);
    const uint8_t* qh = (split ? r + 128 * nb + 64 * blk : b + 128) + 32 * n;
    const int8_t* scales = reinterpret_cast<const int8_t*>(split ? r + 192 * nb + 16 * blk : b + 192) + 8 * n + 2 * k;
    const int lshift = 4 * (k >> 1), hshift = 2 * k;
    const float d0 = d * float(scales[0]), d1 = d * float(scales[1]);
#pragma unroll
    for (int l = 0; l < 32; ++l) {
      const int code = (((ql[l] >> lshift) & 0xF) | (((qh[l] >> hshift) & 3) << 4)) - 32;
      v[l] = (l < 16 ? d0 : d1) * float(code);
    }
  }
}

// Calls fn(std::integral_constant<WFormat, F>{}) for the weight's format F
// (host side: picks the kernel instance).
template <class Fn>
void with_format(WFormat f, Fn&& fn) {
#define ALLM_CUDA_FORMAT(F) \
  case WFormat::F: return fn(std::integral_constant<WFormat, WFormat::F>{});
  switch (f) {
    ALLM_CUDA_FORMAT(f32) ALLM_CUDA_FORMAT(f16) ALLM_CUDA_FORMAT(bf16) ALLM_CUDA_FORMAT(mlx)
    ALLM_CUDA_FORMAT(q4_0) ALLM_CUDA_FORMAT(q4_1) ALLM_CUDA_FORMAT(q5_0) ALLM_CUDA_FORMAT(q5_1)
    ALLM_CUDA_FORMAT(q8_0) ALLM_CUDA_FORMAT(q2_k) ALLM_CUDA_FORMAT(q3_k) ALLM_CUDA_FORMAT(q4_k)
    ALLM_CUDA_FORMAT(q5_k) ALLM_CUDA_FORMAT(q6_k) ALLM_CUDA_FORMAT(mxfp4)
    ALLM_CUDA_FORMAT(q8_0_split) ALLM_CUDA_FORMAT(q6_k_split)
  }
#undef ALLM_CUDA_FORMAT
}

}  // namespace allm::cuda
