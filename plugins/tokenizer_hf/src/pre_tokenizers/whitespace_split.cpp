// WhitespaceSplit: pieces are the runs of non-whitespace characters.
#include "pre_tokenizer.hpp"
#include "split_behavior.hpp"
#include "unicode.hpp"

namespace allm::hf {

namespace {
class WhitespaceSplitPreTokenizer : public PreTokenizer {
 public:
  void split(std::string_view text, bool at_start, PieceSink emit) const override {
    std::vector<Span> spans;
    char_spans(text, unicode::is_whitespace, spans);
    emit_spans(text, at_start, spans, Behavior::Removed, false, emit);
  }
};
}  // namespace

PreTokenizerPtr make_whitespace_split_pre_tokenizer(const JsonNode&) {
  return std::make_unique<WhitespaceSplitPreTokenizer>();
}

}  // namespace allm::hf
