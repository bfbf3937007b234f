#include "allm/host/platform.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace allm::host {

// Reads "Key: value" from a /proc file.
static std::string proc_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      auto v = line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return {};
}

static std::vector<std::string> detect_simd() {
  std::vector<std::string> out;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return out;
  bool osxsave = c & bit_OSXSAVE;
  // The OS must save the wider registers too (XCR0), or the instructions fault.
  unsigned long long xcr0 = 0;
  if (osxsave) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<unsigned long long>(hi) << 32) | lo;
  }
  bool avx_os = osxsave && (xcr0 & 0x6) == 0x6;
  bool avx512_os = avx_os && (xcr0 & 0xe0) == 0xe0;
  if (d & bit_SSE2) out.push_back("sse2");
  if (c & bit_SSE3) out.push_back("sse3");
  if (c & bit_SSSE3) out.push_back("ssse3");
  if (c & bit_SSE4_1) out.push_back("sse4.1");
  if (c & bit_SSE4_2) out.push_back("sse4.2");
  if ((c & bit_AVX) && avx_os) out.push_back("avx");
  if ((c & bit_FMA) && avx_os) out.push_back("fma");
  if ((c & bit_F16C) && avx_os) out.push_back("f16c");
  unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
  if (__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) {
    if ((b7 & bit_AVX2) && avx_os) out.push_back("avx2");
    if (avx512_os) {
      if (b7 & bit_AVX512F) out.push_back("avx512f");
      if (b7 & bit_AVX512BW) out.push_back("avx512bw");
      if (b7 & bit_AVX512VL) out.push_back("avx512vl");
      if (c7 & (1u << 11)) out.push_back("avx512vnni");
    }
    unsigned a71 = 0, b71 = 0, c71 = 0, d71 = 0;
    if (avx512_os && __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71) && (a71 & (1u << 5)))
      out.push_back("avx512bf16");
    if (avx_os && __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71) && (a71 & (1u << 4)))
      out.push_back("avxvnni");
  }
#elif defined(__aarch64__)
  out.push_back("neon");  // mandatory on AArch64
  std::string features = proc_field("/proc/cpuinfo", "Features");
  std::istringstream ss(features);
  std::string f;
  std::set<std::string> have;
  while (ss >> f) have.insert(f);
  if (have.count("asimddp")) out.push_back("dotprod");
  if (have.count("i8mm")) out.push_back("i8mm");
  if (have.count("sve")) out.push_back("sve");
#endif
  return out;
}

PlatformInfo detect_platform() {
  PlatformInfo p;
  utsname u{};
  if (uname(&u) == 0) {
    p.os = std::string(u.sysname) + " " + u.release;
    p.arch = u.machine;
  }
  p.cpu_model = proc_field("/proc/cpuinfo", "model name");
  if (p.cpu_model.empty()) p.cpu_model = proc_field("/proc/cpuinfo", "Hardware");
  p.logical_cores = std::thread::hardware_concurrency();
  // Physical cores: distinct (physical id, core id) pairs.
  {
    std::ifstream in("/proc/cpuinfo");
    std::string line, phys = "0";
    std::set<std::string> cores;
    while (std::getline(in, line)) {
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      auto v = line.substr(colon + 1);
      if (line.rfind("physical id", 0) == 0) phys = v;
      if (line.rfind("core id", 0) == 0) cores.insert(phys + "/" + v);
    }
    p.physical_cores = cores.empty() ? p.logical_cores : static_cast<unsigned>(cores.size());
  }
  p.simd = detect_simd();
  auto kb = [](const std::string& s) { return s.empty() ? 0ull : std::stoull(s) * 1024ull; };
  p.total_memory_bytes = kb(proc_field("/proc/meminfo", "MemTotal"));
  p.available_memory_bytes = kb(proc_field("/proc/meminfo", "MemAvailable"));
  // Memory limits of a container (cgroup v2) are the real ceiling.
  std::ifstream cg("/sys/fs/cgroup/memory.max");
  std::string limit;
  if (cg >> limit && limit != "max") {
    auto l = std::stoull(limit);
    if (l < p.total_memory_bytes) p.total_memory_bytes = l;
    if (l < p.available_memory_bytes) p.available_memory_bytes = l;
  }
#if defined(__APPLE__) && defined(__aarch64__)
  p.apple_silicon = true;
#endif
  return p;
}

}  // namespace allm::host
