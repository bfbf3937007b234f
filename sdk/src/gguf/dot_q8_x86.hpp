#pragma once
// x86 SIMD paths for the Q8-activation dot products, chosen at run time by
// CPUID. Each returns false when it has no path for the format or CPU, and the
// caller falls back to the portable code.
#include <cstdint>
#include <string>

#include "allm/gguf.hpp"

namespace allm::gguf::detail {

// Read-only Q8 activations: QuantizedActivations' arrays, or the same arrays
// inside a prepared matmul buffer (gemm.hpp).
struct Q8View {
  int64_t n;
  const float* scale;    // n / 32
  const int8_t* q;       // n
  const int16_t* bsum;   // n / 16
};
inline Q8View view_of(const QuantizedActivations& a) { return {a.n, a.scale.data(), a.q.data(), a.bsum.data()}; }

// dot_row_q8 without the argument checks (n is a multiple of the block size
// and at most x.n), for callers that checked once per matrix.
float dot_row_q8_unchecked(DType t, const void* row, const Q8View& x, int64_t n);

bool x86_quantize_activations(const float* x, int64_t n, QuantizedActivations& out);
bool x86_dot_row_q8(DType t, const void* row, const Q8View& x, int64_t n, float& result);
const char* x86_isa_name() noexcept;
// Tests: restrict the kernels to "scalar", "avx2" or "avx512vnni"; false when
// the CPU lacks it.
bool x86_select_isa(const std::string& name);

}  // namespace allm::gguf::detail
