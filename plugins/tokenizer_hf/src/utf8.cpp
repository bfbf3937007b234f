#include "utf8.hpp"

#include <cstdio>

#include "allm/error.hpp"
#include "allm/utf8.hpp"

namespace allm::hf::utf8 {

// Length of the valid sequence at s[i], or 0 when invalid. When invalid,
// `bad_len` receives the length of the maximal prefix of a valid sequence
// (at least 1), which is what one U+FFFD replaces.
static size_t valid_len(std::string_view s, size_t i, size_t& bad_len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  unsigned char b = p[i];
  bad_len = 1;
  if (b < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 2;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 3;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= n) return 0;
    unsigned char c = p[i + k];
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (c < l || c > h) return 0;
    bad_len = k + 1;
  }
  return need + 1;
}

std::optional<size_t> first_invalid(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    // Fast path over ASCII runs.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    size_t bad;
    size_t len = valid_len(s, i, bad);
    if (len == 0) return i;
    i += len;
  }
  return std::nullopt;
}

bool is_valid(std::string_view s) { return !first_invalid(s).has_value(); }

void validate(std::string_view s, std::string_view what) {
  if (auto off = first_invalid(s)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(s[*off]));
    throw TokenizerError(std::string(what) + ": invalid UTF-8 at byte offset " + std::to_string(*off) +
                         " (byte " + hex + ")");
  }
}

char32_t next(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  unsigned char b = p[i];
  if (b < 0x80) {
    ++i;
    return b;
  }
  if (b < 0xE0) {
    char32_t cp = ((b & 0x1F) << 6) | (p[i + 1] & 0x3F);
    i += 2;
    return cp;
  }
  if (b < 0xF0) {
    char32_t cp = ((b & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
    i += 3;
    return cp;
  }
  char32_t cp = ((b & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12) | ((p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
  i += 4;
  return cp;
}

void append(std::string& out, char32_t cp) { allm::utf8::append_code_point(out, cp); }

std::string encode(char32_t cp) {
  std::string s;
  append(s, cp);
  return s;
}

std::string lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0, n = bytes.size();
  while (i < n) {
    size_t bad;
    size_t len = valid_len(bytes, i, bad);
    if (len) {
      out.append(bytes.data() + i, len);
      i += len;
    } else {
      out += kReplacement;
      i += bad;
    }
  }
  return out;
}

}  // namespace allm::hf::utf8
