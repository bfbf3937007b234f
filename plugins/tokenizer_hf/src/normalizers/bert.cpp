// BertNormalizer: control-character cleanup, spaces around CJK ideographs,
// optional accent stripping and lowercasing.
#include <optional>

#include "normalizer.hpp"
#include "unicode.hpp"
#include "utf8.hpp"

namespace allm::hf {

namespace {
class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool chinese_chars, bool strip_accents, bool lowercase)
      : clean_text_(clean_text), chinese_chars_(chinese_chars), strip_accents_(strip_accents), lowercase_(lowercase) {}

  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      char32_t c = utf8::next(text, i);
      if (clean_text_) {
        if (c == 0 || c == 0xFFFD || unicode::is_control(c)) continue;
        if (unicode::is_whitespace(c)) c = ' ';
      }
      if (chinese_chars_ && unicode::is_cjk(c)) {
        out += ' ';
        utf8::append(out, c);
        out += ' ';
        continue;
      }
      utf8::append(out, c);
    }
    if (strip_accents_) {
      std::string decomposed = unicode::normalize(out, unicode::Form::NFD);
      out.clear();
      for (size_t i = 0; i < decomposed.size();) {
        size_t start = i;
        if (!unicode::is_combining_mark(utf8::next(decomposed, i))) out.append(decomposed, start, i - start);
      }
    }
    if (lowercase_) {
      std::string lowered;
      lowered.reserve(out.size());
      for (size_t i = 0; i < out.size();) utf8::append(lowered, unicode::to_lower(utf8::next(out, i)));
      out = std::move(lowered);
    }
    text = std::move(out);
  }

 private:
  bool clean_text_, chinese_chars_, strip_accents_, lowercase_;
};
}  // namespace

NormalizerPtr make_bert_normalizer(const JsonNode& node) {
  bool lowercase = node.bool_or("lowercase", true);
  // strip_accents defaults to following `lowercase` when null.
  bool strip_accents = node.get("strip_accents") ? node.at("strip_accents").as_bool() : lowercase;
  return std::make_unique<BertNormalizer>(node.bool_or("clean_text", true), node.bool_or("handle_chinese_chars", true),
                                          strip_accents, lowercase);
}

}  // namespace allm::hf
