// Lowercase: simple per-character lowercase mapping.
#include "normalizer.hpp"
#include "unicode.hpp"
#include "utf8.hpp"

namespace allm::hf {

namespace {
class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) utf8::append(out, unicode::to_lower(utf8::next(text, i)));
    text = std::move(out);
  }
};
}  // namespace

NormalizerPtr make_lowercase_normalizer(const JsonNode&) { return std::make_unique<LowercaseNormalizer>(); }

}  // namespace allm::hf
