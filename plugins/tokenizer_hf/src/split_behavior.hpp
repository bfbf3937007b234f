#pragma once
// How a split treats its delimiters (HF SplitDelimiterBehavior), shared by the
// pre-tokenizers that cut on a pattern or a class of characters.
#include <string_view>
#include <vector>

#include "json_node.hpp"
#include "pattern.hpp"
#include "pre_tokenizer.hpp"

namespace allm::hf {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const JsonNode& node);

// `spans` cover `text` in order; emits the non-empty pieces the behavior
// produces. `invert` swaps matched and unmatched spans first.
void emit_spans(std::string_view text, bool at_start, std::vector<Span>& spans, Behavior behavior, bool invert,
                PieceSink emit);

// Spans where each character satisfying `pred` is its own match.
template <class Pred>
void char_spans(std::string_view text, Pred&& pred, std::vector<Span>& out);

}  // namespace allm::hf

#include "utf8.hpp"

template <class Pred>
void allm::hf::char_spans(std::string_view text, Pred&& pred, std::vector<Span>& out) {
  out.clear();
  size_t prev = 0;
  for (size_t i = 0; i < text.size();) {
    size_t start = i;
    if (pred(utf8::next(text, i))) {
      if (prev != start) out.push_back({prev, start, false});
      out.push_back({start, i, true});
      prev = i;
    }
  }
  if (prev != text.size() || text.empty()) out.push_back({prev, text.size(), false});
}
