// Picks the kernel table once, from what this CPU supports.
#include <cstdlib>
#include <string>

#include "allm/log.hpp"
#include "kernels/cpu_features.hpp"
#include "kernels/kernel_table.hpp"

namespace allm::kernels {
namespace {

const KernelTable* by_name(const std::string& name) {
  if (name == "scalar") return &scalar_table();
#if defined(__x86_64__)
  if (name == "avx512" && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return avx512_table();
  if (name == "avx2" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      cpu_has_f16c())
    return avx2_table();
#endif
  if (name == "neon") return neon_table();
  return nullptr;
}

const KernelTable& choose() {
  if (const char* forced = std::getenv("ALLM_ISA")) {
    if (auto* t = by_name(forced)) return *t;
    log().warn("ALLM_ISA={} is not available on this CPU; choosing automatically", forced);
  }
  for (const char* name : {"avx512", "avx2", "neon"})
    if (auto* t = by_name(name)) return *t;
  return scalar_table();
}

}  // namespace

const KernelTable& active() {
  static const KernelTable& table = choose();
  return table;
}

}  // namespace allm::kernels
