#include "split_behavior.hpp"

#include <cctype>

namespace allm::hf {

Behavior parse_behavior(const JsonNode& node) {
  std::string b = node.as_string();
  // Both spellings occur: "Isolated" (serde) and "isolated" (Python API).
  for (auto& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (b == "removed") return Behavior::Removed;
  if (b == "isolated") return Behavior::Isolated;
  if (b == "mergedwithprevious" || b == "merged_with_previous") return Behavior::MergedWithPrevious;
  if (b == "mergedwithnext" || b == "merged_with_next") return Behavior::MergedWithNext;
  if (b == "contiguous") return Behavior::Contiguous;
  node.fail("unknown split behavior '" + node.as_string() + "'");
}

void emit_spans(std::string_view text, bool at_start, std::vector<Span>& spans, Behavior behavior, bool invert,
                PieceSink emit) {
  if (invert)
    for (auto& s : spans) s.is_match = !s.is_match;
  auto out = [&](size_t start, size_t end) {
    if (end > start) emit(text.substr(start, end - start), at_start && start == 0);
  };
  switch (behavior) {
    case Behavior::Removed:
      for (auto& s : spans)
        if (!s.is_match) out(s.start, s.end);
      return;
    case Behavior::Isolated:
      for (auto& s : spans) out(s.start, s.end);
      return;
    case Behavior::MergedWithPrevious: {
      // A match joins the piece before it, unless that piece was a match too.
      std::vector<std::pair<size_t, size_t>> pieces;
      bool previous_match = false;
      for (auto& s : spans) {
        if (s.is_match && !previous_match && !pieces.empty())
          pieces.back().second = s.end;
        else
          pieces.push_back({s.start, s.end});
        previous_match = s.is_match;
      }
      for (auto& p : pieces) out(p.first, p.second);
      return;
    }
    case Behavior::MergedWithNext: {
      // Mirror image: a match joins the piece after it.
      std::vector<std::pair<size_t, size_t>> pieces;
      bool previous_match = false;
      for (size_t k = spans.size(); k-- > 0;) {
        auto& s = spans[k];
        if (s.is_match && !previous_match && !pieces.empty())
          pieces.back().first = s.start;
        else
          pieces.push_back({s.start, s.end});
        previous_match = s.is_match;
      }
      for (size_t k = pieces.size(); k-- > 0;) out(pieces[k].first, pieces[k].second);
      return;
    }
    case Behavior::Contiguous: {
      std::vector<std::pair<size_t, size_t>> pieces;
      bool previous_match = false;
      for (auto& s : spans) {
        if (s.is_match == previous_match && !pieces.empty())
          pieces.back().second = s.end;
        else
          pieces.push_back({s.start, s.end});
        previous_match = s.is_match;
      }
      for (auto& p : pieces) out(p.first, p.second);
      return;
    }
  }
}

}  // namespace allm::hf
