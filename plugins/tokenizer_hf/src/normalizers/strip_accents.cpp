// StripAccents: drops combining marks (meant to follow NFD / NFKD).
#include "normalizer.hpp"
#include "unicode.hpp"
#include "utf8.hpp"

namespace allm::hf {

namespace {
class StripAccentsNormalizer : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      size_t start = i;
      char32_t c = utf8::next(text, i);
      if (!unicode::is_combining_mark(c)) out.append(text, start, i - start);
    }
    text = std::move(out);
  }
};
}  // namespace

NormalizerPtr make_strip_accents_normalizer(const JsonNode&) { return std::make_unique<StripAccentsNormalizer>(); }

}  // namespace allm::hf
