#pragma once
// CPU features that __builtin_cpu_supports cannot name on every compiler
// (clang 14 rejects "f16c"): read from CPUID directly.
#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace allm::kernels {

// F16C (half <-> float conversion): CPUID leaf 1, ECX bit 29.
inline bool cpu_has_f16c() {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx & (1u << 29)) != 0;
#else
  return false;
#endif
}

}  // namespace allm::kernels
