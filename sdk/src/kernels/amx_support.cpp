// Whether the AMX kernels (gemm_amx.cpp) may run: the CPU has AMX-TILE and
// AMX-BF16, and Linux granted this process the tile data state, which it
// hands out only on request (arch_prctl ARCH_REQ_XCOMP_PERM; without it the
// first tile instruction kills the process with SIGILL).
#include <cstdlib>
#include <cstring>

#include "kernels/gemm_amx.hpp"
#include "kernels/kernel_table.hpp"

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace allm::kernels::amx {
namespace {

bool detect() {
#if defined(__x86_64__) && defined(__linux__)
  // ALLM_AMX=off compares against the AVX-512 path; ALLM_ISA below avx512 implies it.
  if (const char* env = std::getenv("ALLM_AMX"); env && std::strcmp(env, "off") == 0) return false;
  if (std::strcmp(active().name, "avx512") != 0) return false;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool amx_bf16 = (edx >> 22) & 1u, amx_tile = (edx >> 24) & 1u;
  if (!amx_bf16 || !amx_tile) return false;
  constexpr long kArchReqXcompPerm = 0x1023;  // arch_prctl code (asm/prctl.h)
  constexpr long kXfeatureXtiledata = 18;     // the tile data state component
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

}  // namespace

bool usable() {
  static const bool ok = detect();
  return ok;
}

}  // namespace allm::kernels::amx

