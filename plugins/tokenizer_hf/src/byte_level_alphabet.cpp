#include "byte_level_alphabet.hpp"

#include "utf8.hpp"

namespace allm::hf::byte_level {

namespace {
struct Tables {
  std::array<std::string, 256> to_char;
  std::array<int16_t, 512> to_byte;  // alphabet code points are all < 0x200
  Tables() {
    to_byte.fill(-1);
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      char32_t cp = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      to_char[b] = utf8::encode(cp);
      to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}
}  // namespace

const std::array<std::string, 256>& byte_to_char() { return tables().to_char; }

int char_to_byte(char32_t cp) { return cp < 512 ? tables().to_byte[cp] : -1; }

void encode(std::string_view bytes, std::string& out) {
  auto& t = tables().to_char;
  for (unsigned char b : bytes) out += t[b];
}

}  // namespace allm::hf::byte_level
