// ByteLevel decoder: maps byte-level characters back to bytes (a token with a
// character outside the alphabet keeps its own bytes), joins everything and
// repairs invalid UTF-8 with U+FFFD.
#include "byte_level_alphabet.hpp"
#include "decoder.hpp"
#include "utf8.hpp"

namespace allm::hf {

namespace {
class ByteLevelDecoder : public Decoder {
 public:
  void decode(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (auto& t : tokens) {
      size_t mark = bytes.size();
      bool mapped = true;
      for (size_t i = 0; i < t.size();) {
        int b = byte_level::char_to_byte(utf8::next(t, i));
        if (b < 0) {
          mapped = false;
          break;
        }
        bytes += static_cast<char>(b);
      }
      if (!mapped) {
        bytes.resize(mark);
        bytes += t;
      }
    }
    tokens.assign(1, utf8::lossy(bytes));
  }
};
}  // namespace

DecoderPtr make_byte_level_decoder(const JsonNode&) { return std::make_unique<ByteLevelDecoder>(); }

}  // namespace allm::hf
