#pragma once
// The raw SIMD kernels, one table per instruction set. Each ISA lives in its
// own translation unit compiled for that ISA only (a `#pragma GCC target` at
// the top), and `kernels()` picks one table once from CPUID. These files
// include no standard-library headers: inline library code compiled for a
// wider ISA could otherwise be merged into callers that run on older CPUs.
#include <stddef.h>
#include <stdint.h>

namespace allm::kernels {

// Scale storage of an MLX-affine tensor.
enum ScaleType : int { kScaleF32 = 0, kScaleBF16 = 1, kScaleF16 = 2 };

struct MlxRow {
  const uint32_t* codes;  // packed LSB-first
  const void* scales;     // one per group
  const void* biases;     // one per group
  int scale_type;         // ScaleType
  int bits;
  int group_size;
  // Optional: Σx over each group of the input vector, shared by every row of
  // a matrix (lets the kernels skip summing x per row). May be null.
  const float* xsum = nullptr;
};

struct KernelTable {
  const char* name;
  // Dot products of one stored row with an F32 vector of length n.
  float (*dot_f32)(const float* w, const float* x, int64_t n);
  float (*dot_bf16)(const uint16_t* w, const float* x, int64_t n);
  float (*dot_f16)(const uint16_t* w, const float* x, int64_t n);
  float (*dot_mlx)(const MlxRow& row, const float* x, int64_t n);
  // Widening a stored row to F32.
  void (*bf16_to_f32)(const uint16_t* src, float* dst, int64_t n);
  void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t n);
  void (*mlx_to_f32)(const MlxRow& row, float* dst, int64_t n);
  // y[t*ldy + r] = dot(W[r], X[t]) for r < rows, t < tokens; W rows and X rows are
  // length k (row stride k). Register-blocked so each loaded weight serves several tokens.
  void (*gemm_f32)(const float* w, int64_t rows, const float* x, int64_t tokens, int64_t k,
                   float* y, int64_t ldy);
  // y += a * x
  void (*axpy)(float a, const float* x, float* y, int64_t n);
  // Σ p[i]: a pure streaming read (memory-bandwidth measurement).
  float (*read_sum)(const float* p, int64_t n);
  // y[r] = dot(W[r], x) for r < rows of a row-major BF16/F16 matrix (row
  // stride k): decode's matrix-vector product, one pass over the weights.
  void (*gemv_bf16)(const uint16_t* w, int64_t rows, int64_t k, const float* x, float* y);
  void (*gemv_f16)(const uint16_t* w, int64_t rows, int64_t k, const float* x, float* y);
};

// A matrix-vector product as one dot product per row (tables without a
// multi-row kernel).
template <float (*Dot)(const uint16_t*, const float*, int64_t)>
void gemv_by_rows(const uint16_t* w, int64_t rows, int64_t k, const float* x, float* y) {
  for (int64_t r = 0; r < rows; ++r) y[r] = Dot(w + r * k, x, k);
}

const KernelTable& scalar_table();
const KernelTable* avx2_table();    // nullptr when not compiled in
const KernelTable* avx512_table();  // nullptr when not compiled in
const KernelTable* neon_table();    // nullptr when not compiled in

// The table for this CPU (ALLM_ISA=scalar|avx2|avx512|neon overrides, for tests).
const KernelTable& active();

// Helpers shared by all ISAs (header-only, plain C).
static inline float bf16_to_float(uint16_t h) {
  union { uint32_t u; float f; } v;
  v.u = static_cast<uint32_t>(h) << 16;
  return v.f;
}

static inline float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((man & 0x400u) == 0) { man <<= 1; --exp; }
      bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  union { uint32_t u; float f; } v;
  v.u = bits;
  return v.f;
}

static inline float load_scale(const void* p, int type, int64_t i) {
  switch (type) {
    case kScaleBF16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    case kScaleF16: return f16_to_float(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

// Code j of a row: bits [j*bits, (j+1)*bits) of the little-endian bit stream.
static inline uint32_t mlx_code(const uint32_t* codes, int bits, int64_t j) {
  const int64_t bit = j * bits;
  const int64_t word = bit >> 5;
  const int shift = static_cast<int>(bit & 31);
  uint64_t v = codes[word] >> shift;
  if (shift + bits > 32) v |= static_cast<uint64_t>(codes[word + 1]) << (32 - shift);
  return static_cast<uint32_t>(v) & ((1u << bits) - 1u);
}

}  // namespace allm::kernels
