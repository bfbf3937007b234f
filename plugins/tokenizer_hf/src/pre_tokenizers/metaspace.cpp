// Metaspace (SentencePiece style): spaces become the replacement character
// (default U+2581), which is prepended per `prepend_scheme`; with `split`, each
// replacement character starts a new piece.
#include "pre_tokenizer.hpp"
#include "split_behavior.hpp"
#include "utf8.hpp"

namespace allm::hf {

namespace {
enum class Prepend { Always, First, Never };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {
    size_t i = 0;
    replacement_cp_ = utf8::next(replacement_, i);
  }

  void split(std::string_view text, bool at_start, PieceSink emit) const override {
    std::string s;
    s.reserve(text.size() + replacement_.size() * 4);
    for (char c : text) {
      if (c == ' ')
        s += replacement_;
      else
        s += c;
    }
    bool prepend = prepend_ == Prepend::Always || (prepend_ == Prepend::First && at_start);
    if (prepend && s.compare(0, replacement_.size(), replacement_) != 0) s.insert(0, replacement_);
    if (!split_) {
      emit(s, at_start);
      return;
    }
    std::vector<Span> spans;
    char32_t rep = replacement_cp_;
    char_spans(s, [rep](char32_t c) { return c == rep; }, spans);
    emit_spans(s, at_start, spans, Behavior::MergedWithNext, false, emit);
  }

 private:
  std::string replacement_;
  char32_t replacement_cp_;
  Prepend prepend_;
  bool split_;
};
}  // namespace

PreTokenizerPtr make_metaspace_pre_tokenizer(const JsonNode& node) {
  Prepend prepend = node.bool_or("add_prefix_space", true) ? Prepend::Always : Prepend::Never;
  if (auto scheme = node.get("prepend_scheme")) {
    std::string s = scheme->as_string();
    if (s == "always") prepend = Prepend::Always;
    else if (s == "first") prepend = Prepend::First;
    else if (s == "never") prepend = Prepend::Never;
    else scheme->fail("unknown prepend_scheme '" + s + "'");
  }
  std::string replacement = node.string_or("replacement", "\xE2\x96\x81");
  if (replacement.empty()) node.at("replacement").fail("replacement must be one character");
  return std::make_unique<MetaspacePreTokenizer>(replacement, prepend, node.bool_or("split", true));
}

}  // namespace allm::hf
