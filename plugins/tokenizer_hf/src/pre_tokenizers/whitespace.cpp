// Whitespace: keeps runs of word characters and runs of other non-space
// characters (\w+|[^\w\s]+); whitespace is dropped.
#include "pre_tokenizer.hpp"
#include "regex.hpp"

namespace allm::hf {

namespace {
class WhitespacePreTokenizer : public PreTokenizer {
 public:
  WhitespacePreTokenizer() : regex_(R"(\w+|[^\w\s]+)") {}
  void split(std::string_view text, bool at_start, PieceSink emit) const override {
    regex_.for_each_match(text, [&](size_t start, size_t end) {
      if (end > start) emit(text.substr(start, end - start), at_start && start == 0);
    });
  }

 private:
  Regex regex_;
};
}  // namespace

PreTokenizerPtr make_whitespace_pre_tokenizer(const JsonNode&) { return std::make_unique<WhitespacePreTokenizer>(); }

}  // namespace allm::hf
