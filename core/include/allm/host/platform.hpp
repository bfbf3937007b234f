#pragma once
// What machine we run on: OS, CPU, usable SIMD, memory.
#include <cstdint>
#include <string>
#include <vector>

namespace allm::host {

struct PlatformInfo {
  std::string os;            // "Linux 6.1.0 x86_64"
  std::string arch;          // "x86_64", "aarch64"
  std::string cpu_model;
  unsigned logical_cores = 0;
  unsigned physical_cores = 0;
  std::vector<std::string> simd;  // usable now: "sse4.2", "avx2", "fma", "avx512f", "neon", ...
  uint64_t total_memory_bytes = 0;
  uint64_t available_memory_bytes = 0;
  bool apple_silicon = false;
};

PlatformInfo detect_platform();

}  // namespace allm::host
