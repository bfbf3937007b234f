// Strip: removes leading (`left`) and/or trailing (`right`) whitespace.
#include "normalizer.hpp"
#include "unicode.hpp"
#include "utf8.hpp"

namespace allm::hf {

namespace {
class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end) {
        size_t next = begin;
        if (!unicode::is_whitespace(utf8::next(text, next))) break;
        begin = next;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        size_t probe = start;
        if (!unicode::is_whitespace(utf8::next(text, probe))) break;
        end = start;
      }
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};
}  // namespace

NormalizerPtr make_strip_normalizer(const JsonNode& node) {
  return std::make_unique<StripNormalizer>(node.bool_or("left", true), node.bool_or("right", true));
}

}  // namespace allm::hf
