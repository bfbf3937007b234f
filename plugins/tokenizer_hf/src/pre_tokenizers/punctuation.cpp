// Punctuation: splits on ASCII and Unicode punctuation with a behavior
// (default isolated).
#include "pre_tokenizer.hpp"
#include "split_behavior.hpp"
#include "unicode.hpp"

namespace allm::hf {

bool is_bert_punctuation(char32_t c) {
  bool ascii = (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  return ascii || unicode::is_punctuation(c);
}

namespace {
class PunctuationPreTokenizer : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(Behavior behavior) : behavior_(behavior) {}
  void split(std::string_view text, bool at_start, PieceSink emit) const override {
    std::vector<Span> spans;
    char_spans(text, is_bert_punctuation, spans);
    emit_spans(text, at_start, spans, behavior_, false, emit);
  }

 private:
  Behavior behavior_;
};
}  // namespace

PreTokenizerPtr make_punctuation_pre_tokenizer(const JsonNode& node) {
  auto behavior = node.get("behavior");
  return std::make_unique<PunctuationPreTokenizer>(behavior ? parse_behavior(*behavior) : Behavior::Isolated);
}

}  // namespace allm::hf
