#pragma once
// Python strings index by code point; ours are UTF-8. These helpers convert.
// Malformed bytes decode as single code points (their byte value) so that
// nothing throws and every byte survives a round trip.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "allm/utf8.hpp"

namespace allm::jinja::utf8 {

// Length in bytes of the sequence starting at s[i] (1 for malformed bytes).
inline size_t seq_len(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  return n;
}

inline uint32_t decode_at(std::string_view s, size_t i, size_t n) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (n == 1) return c;
  uint32_t cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

// The string split into its characters (each a UTF-8 substring).
inline std::vector<std::string_view> chars(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = seq_len(s, i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

inline std::vector<uint32_t> code_points(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = seq_len(s, i);
    out.push_back(decode_at(s, i, n));
    i += n;
  }
  return out;
}

inline size_t length(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); i += seq_len(s, i)) ++count;
  return count;
}

inline void append(std::string& out, uint32_t cp) {
  allm::utf8::append_code_point(out, static_cast<char32_t>(cp));
}

// Python's str.isspace for the code points templates meet.
inline bool is_space(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

}  // namespace allm::jinja::utf8
