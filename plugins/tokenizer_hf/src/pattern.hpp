#pragma once
// The `pattern` of Split, Replace (normalizer and decoder): either
// {"String": "literal"} or {"Regex": "..."}.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "json_node.hpp"
#include "regex.hpp"

namespace allm::hf {

struct Span {
  size_t start, end;
  bool is_match;
};

class Pattern {
 public:
  static Pattern from_json(const JsonNode& node);
  static Pattern literal(std::string text);

  // Calls fn(start, end) for each non-overlapping match.
  template <class Fn>
  void for_each_match(std::string_view text, Fn&& fn) const {
    if (regex_) {
      regex_->for_each_match(text, fn);
      return;
    }
    if (literal_.empty()) return;
    size_t pos = 0;
    while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
      fn(pos, pos + literal_.size());
      pos += literal_.size();
    }
  }

  // Matched and unmatched spans covering `text`, in order (HF find_matches).
  void spans(std::string_view text, std::vector<Span>& out) const;
  std::string replace_all(std::string_view text, std::string_view with) const;

 private:
  std::string literal_;
  std::shared_ptr<Regex> regex_;
};

}  // namespace allm::hf
