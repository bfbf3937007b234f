// BertPreTokenizer: splits on whitespace (dropped), then isolates every
// punctuation character.
#include "pre_tokenizer.hpp"
#include "split_behavior.hpp"
#include "unicode.hpp"

namespace allm::hf {

bool is_bert_punctuation(char32_t c);

namespace {
class BertPreTokenizer : public PreTokenizer {
 public:
  void split(std::string_view text, bool at_start, PieceSink emit) const override {
    std::vector<Span> spans;
    char_spans(text, unicode::is_whitespace, spans);
    emit_spans(text, at_start, spans, Behavior::Removed, false, [&](std::string_view word, bool word_at_start) {
      std::vector<Span> inner;
      char_spans(word, is_bert_punctuation, inner);
      emit_spans(word, word_at_start, inner, Behavior::Isolated, false, emit);
    });
  }
};
}  // namespace

PreTokenizerPtr make_bert_pre_tokenizer(const JsonNode&) { return std::make_unique<BertPreTokenizer>(); }

}  // namespace allm::hf
