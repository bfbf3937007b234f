// ByteFallback decoder: runs of <0xXX> tokens become the bytes they spell;
// a run that is not valid UTF-8 becomes one U+FFFD per byte.
#include "decoder.hpp"
#include "utf8.hpp"

namespace allm::hf {

namespace {
int byte_token(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

class ByteFallbackDecoder : public Decoder {
 public:
  void decode(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string bytes;
    size_t count = 0;
    auto flush = [&] {
      if (count == 0) return;
      if (utf8::is_valid(bytes))
        out.push_back(bytes);
      else
        for (size_t k = 0; k < count; ++k) out.emplace_back(utf8::kReplacement);
      bytes.clear();
      count = 0;
    };
    for (auto& t : tokens) {
      int b = byte_token(t);
      if (b >= 0) {
        bytes += static_cast<char>(b);
        ++count;
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    tokens = std::move(out);
  }
};
}  // namespace

DecoderPtr make_byte_fallback_decoder(const JsonNode&) { return std::make_unique<ByteFallbackDecoder>(); }

}  // namespace allm::hf
