#pragma once
// The inner loops of attention over one block of cached positions, for all
// query heads of one KV head at once (AVX-512; attention_avx512.cpp). The
// backend's per-position calls (one dot product and one axpy per head and
// position, each through the kernel table) cost a fifth of a decode step of
// Qwen3-0.6B at 512 positions. Only entered when the AVX-512 table is active
// and the head size is 64, 128 or 256 (`fits`); KV rows are F32 or F16.
#include <stddef.h>
#include <stdint.h>

namespace allm::kernels::attn {

inline bool fits(int64_t d) { return d == 64 || d == 128 || d == 256; }

// s[h * lds + j] = Σ_c key_j[c] q[h * d + c] for j < len, h < group; key j at
// keys + j * row_bytes (F32 or F16 values, `f16`).
void scores(const uint8_t* keys, int64_t row_bytes, bool f16, int64_t len, const float* q, int64_t group, int64_t d,
            float* s, int64_t lds);

// acc[h * d + c] += Σ_j w[h * ldw + j] value_j[c], j in order (each step one
// fused multiply-add per element, as axpy).
void values(const uint8_t* values, int64_t row_bytes, bool f16, int64_t len, const float* w, int64_t ldw,
            int64_t group, int64_t d, float* acc);

}  // namespace allm::kernels::attn
