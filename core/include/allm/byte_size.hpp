#pragma once
// Byte counts as people read them ("1.5 GiB"): the largest binary unit (B,
// KiB, MiB, GiB, TiB) under the value, with `decimals` places (none for plain
// bytes). One formatter for every command and message that shows a size.
#include <cstdint>
#include <cstdio>
#include <string>

namespace allm {

inline std::string byte_size_text(uint64_t bytes, int decimals = 1) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f %s", u == 0 ? 0 : decimals, v, kUnits[u]);
  return buf;
}

}  // namespace allm
