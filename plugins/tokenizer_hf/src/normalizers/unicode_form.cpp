// NFC / NFD / NFKC / NFKD through utf8proc.
#include "normalizer.hpp"
#include "unicode.hpp"

namespace allm::hf {

namespace {
class UnicodeFormNormalizer : public Normalizer {
 public:
  explicit UnicodeFormNormalizer(unicode::Form form) : form_(form) {}
  void normalize(std::string& text) const override { text = unicode::normalize(text, form_); }

 private:
  unicode::Form form_;
};
}  // namespace

NormalizerPtr make_unicode_normalizer(const JsonNode& node) {
  std::string type = node.type();
  unicode::Form form = type == "NFC"    ? unicode::Form::NFC
                       : type == "NFD"  ? unicode::Form::NFD
                       : type == "NFKC" ? unicode::Form::NFKC
                                        : unicode::Form::NFKD;
  return std::make_unique<UnicodeFormNormalizer>(form);
}

}  // namespace allm::hf
