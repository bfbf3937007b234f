#pragma once
// UTF-8 helpers shared by the pipeline: validation (input text must be valid
// UTF-8; the error names the first bad byte offset), character stepping, and
// the lossy conversion decoders use for byte sequences (each maximal invalid
// subsequence becomes one U+FFFD, as Rust's String::from_utf8_lossy does).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace allm::hf::utf8 {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Offset of the first byte that does not start a valid sequence, or nullopt.
std::optional<size_t> first_invalid(std::string_view s);
// Throws TokenizerError "invalid UTF-8 at byte offset N" when `s` is not valid.
void validate(std::string_view s, std::string_view what);

// Length of the (valid) sequence starting with lead byte `b`.
inline size_t seq_len(unsigned char b) {
  if (b < 0x80) return 1;
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  return 4;
}

// Decodes the valid character at s[i]; advances i.
char32_t next(std::string_view s, size_t& i);
void append(std::string& out, char32_t cp);
std::string encode(char32_t cp);

// Bytes -> valid UTF-8 with U+FFFD substitutions.
std::string lossy(std::string_view bytes);
bool is_valid(std::string_view s);

}  // namespace allm::hf::utf8
