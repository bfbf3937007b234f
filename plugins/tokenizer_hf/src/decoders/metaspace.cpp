// Metaspace decoder: the replacement character becomes a space, except in the
// first token (where it stands for the prepended space) unless the scheme is
// "never".
#include "decoder.hpp"
#include "utf8.hpp"

namespace allm::hf {

namespace {
class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first) : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void decode(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      for (size_t pos = 0; pos < t.size();) {
        if (t.compare(pos, replacement_.size(), replacement_) == 0) {
          if (!(i == 0 && strip_first_)) out += ' ';
          pos += replacement_.size();
        } else {
          out += t[pos++];
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};
}  // namespace

DecoderPtr make_metaspace_decoder(const JsonNode& node) {
  bool strip_first = node.bool_or("add_prefix_space", true);
  if (auto scheme = node.get("prepend_scheme")) strip_first = scheme->as_string() != "never";
  std::string replacement = node.string_or("replacement", "\xE2\x96\x81");
  if (replacement.empty()) node.at("replacement").fail("replacement must be one character");
  return std::make_unique<MetaspaceDecoder>(replacement, strip_first);
}

}  // namespace allm::hf
