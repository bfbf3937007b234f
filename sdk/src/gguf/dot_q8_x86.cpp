// Run-time selection of the x86 kernels (dot_q8_avx2.inc compiled for AVX2 and
// for AVX-512 VNNI). No -march flags: each function carries its own target.
#include "gguf/dot_q8_x86.hpp"

#include <atomic>

namespace allm::gguf::detail {

#if defined(__x86_64__) || defined(__i386__)

namespace avx2 {
bool quantize_activations(const float* x, int64_t n, QuantizedActivations& out);
bool dot_row(DType t, const void* row, const Q8View& x, int64_t n, float& result);
}  // namespace avx2
namespace vnni {
bool dot_row(DType t, const void* row, const Q8View& x, int64_t n, float& result);
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
std::atomic<Isa>& current() {
  static std::atomic<Isa> v{detect()};
  return v;
}
Isa isa() { return current().load(std::memory_order_relaxed); }
}  // namespace

bool x86_select_isa(const std::string& name) {
  Isa best = detect();
  Isa want = name == "avx512vnni" ? Isa::avx512vnni : name == "avx2" ? Isa::avx2 : Isa::scalar;
  if (name != "avx512vnni" && name != "avx2" && name != "scalar") return false;
  if (int(want) > int(best)) return false;
  current().store(want);
  return true;
}

bool x86_quantize_activations(const float* x, int64_t n, QuantizedActivations& out) {
  if (isa() == Isa::scalar) return false;
  return avx2::quantize_activations(x, n, out);
}

bool x86_dot_row_q8(DType t, const void* row, const Q8View& x, int64_t n, float& result) {
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

bool x86_select_isa(const std::string& name) { return name == "scalar"; }
bool x86_quantize_activations(const float*, int64_t, QuantizedActivations&) { return false; }
bool x86_dot_row_q8(DType, const void*, const Q8View&, int64_t, float&) { return false; }
const char* x86_isa_name() noexcept { return "scalar"; }

#endif

}  // namespace allm::gguf::detail
