#pragma once
// x86 SIMD paths for the Q8-activation dot products, chosen at run time by
// CPUID. Each returns false when it has no path for the format or CPU, and the
// caller falls back to the portable code.
#include <cstdint>
#include <string>

#include "allm/gguf.hpp"

namespace allm::gguf::detail {

bool x86_quantize_activations(const float* x, int64_t n, QuantizedActivations& out);
bool x86_dot_row_q8(DType t, const void* row, const QuantizedActivations& x, int64_t n, float& result);
const char* x86_isa_name() noexcept;
// Tests: restrict the kernels to "scalar", "avx2" or "avx512vnni"; false when
// the CPU lacks it.
bool x86_select_isa(const std::string& name);

}  // namespace allm::gguf::detail
