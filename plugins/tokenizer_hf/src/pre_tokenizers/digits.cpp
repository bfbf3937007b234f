// Digits: numbers become their own pieces, one per digit with
// `individual_digits`, else one per run of digits.
#include "pre_tokenizer.hpp"
#include "split_behavior.hpp"
#include "unicode.hpp"

namespace allm::hf {

namespace {
class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void split(std::string_view text, bool at_start, PieceSink emit) const override {
    std::vector<Span> spans;
    char_spans(text, unicode::is_numeric, spans);
    emit_spans(text, at_start, spans, individual_ ? Behavior::Isolated : Behavior::Contiguous, false, emit);
  }

 private:
  bool individual_;
};
}  // namespace

PreTokenizerPtr make_digits_pre_tokenizer(const JsonNode& node) {
  return std::make_unique<DigitsPreTokenizer>(node.bool_or("individual_digits", false));
}

}  // namespace allm::hf
