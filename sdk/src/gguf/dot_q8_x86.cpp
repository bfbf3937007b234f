// Run-time selection of the x86 kernels (dot_q8_avx2.inc compiled for AVX2 and
// for AVX-512 VNNI). No -march flags: each function carries its own target.
#include "gguf/dot_q8_x86.hpp"

namespace allm::gguf::detail {

#if defined(__x86_64__) || defined(__i386__)

namespace avx2 {
bool quantize_activations(const float* x, int64_t n, QuantizedActivations& out);
bool dot_row(DType t, const void* row, const QuantizedActivations& x, int64_t n, float& result);
}  // namespace avx2
namespace vnni {
bool dot_row(DType t, const void* row, const QuantizedActivations& x, int64_t n, float& result);
}  // namespace vnni

namespace {
enum class Isa { scalar, avx2, avx512vnni };
Isa detect() {
  __builtin_cpu_init();
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!avx2) return Isa::scalar;
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw"))
    return Isa::avx512vnni;
  return Isa::avx2;
}
Isa isa() {
  static const Isa v = detect();
  return v;
}
}  // namespace

bool x86_quantize_activations(const float* x, int64_t n, QuantizedActivations& out) {
  if (isa() == Isa::scalar) return false;
  return avx2::quantize_activations(x, n, out);
}

bool x86_dot_row_q8(DType t, const void* row, const QuantizedActivations& x, int64_t n, float& result) {
  switch (isa()) {
    case Isa::avx512vnni: return vnni::dot_row(t, row, x, n, result);
    case Isa::avx2: return avx2::dot_row(t, row, x, n, result);
    default: return false;
  }
}

const char* x86_isa_name() noexcept {
  switch (isa()) {
    case Isa::avx512vnni: return "avx512vnni";
    case Isa::avx2: return "avx2";
    default: return "scalar";
  }
}

#else

bool x86_quantize_activations(const float*, int64_t, QuantizedActivations&) { return false; }
bool x86_dot_row_q8(DType, const void*, const QuantizedActivations&, int64_t, float&) { return false; }
const char* x86_isa_name() noexcept { return "scalar"; }

#endif

}  // namespace allm::gguf::detail
