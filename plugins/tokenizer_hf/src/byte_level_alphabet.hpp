#pragma once
// GPT-2's byte-level alphabet: every byte maps to a printable character
// (printable Latin-1 bytes to themselves, the rest to U+0100 and up), so byte
// strings become ordinary vocabulary strings and back.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace allm::hf::byte_level {

// UTF-8 spelling of the character for each byte.
const std::array<std::string, 256>& byte_to_char();
// Byte for code point `cp`, or -1 when `cp` is not in the alphabet.
int char_to_byte(char32_t cp);

// Appends the byte-level spelling of `bytes` to `out`.
void encode(std::string_view bytes, std::string& out);

}  // namespace allm::hf::byte_level
