// Split: cuts on a String or Regex pattern with a delimiter behavior.
#include "pattern.hpp"
#include "pre_tokenizer.hpp"
#include "split_behavior.hpp"

namespace allm::hf {

namespace {
class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(Pattern pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void split(std::string_view text, bool at_start, PieceSink emit) const override {
    if (behavior_ == Behavior::Isolated || (behavior_ == Behavior::Removed)) {
      // Streaming path: no span list needed.
      bool keep_match = behavior_ == Behavior::Isolated || invert_;
      bool keep_gap = behavior_ == Behavior::Isolated || !invert_;
      size_t prev = 0;
      pattern_.for_each_match(text, [&](size_t start, size_t end) {
        if (keep_gap && start > prev) emit(text.substr(prev, start - prev), at_start && prev == 0);
        if (keep_match && end > start) emit(text.substr(start, end - start), at_start && start == 0);
        prev = end;
      });
      if (keep_gap && prev < text.size()) emit(text.substr(prev), at_start && prev == 0);
      return;
    }
    std::vector<Span> spans;
    pattern_.spans(text, spans);
    emit_spans(text, at_start, spans, behavior_, invert_, emit);
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};
}  // namespace

PreTokenizerPtr make_split_pre_tokenizer(const JsonNode& node) {
  return std::make_unique<SplitPreTokenizer>(Pattern::from_json(node.at("pattern")), parse_behavior(node.at("behavior")),
                                             node.bool_or("invert", false));
}

}  // namespace allm::hf
