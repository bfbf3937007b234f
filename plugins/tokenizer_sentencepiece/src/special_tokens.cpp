#include "special_tokens.hpp"

#include <algorithm>

namespace allm::spm {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

}  // namespace

std::vector<Segment> split_added(std::string_view text, const SpecialTokens& specials) {
  // Pass 1: cut at the added tokens, leftmost first, the longest one where several start.
  std::vector<Segment> parts;
  std::vector<const AddedToken*> tokens;  // parallel to parts: the added token, or null
  size_t start = 0, at = 0;
  while (at < text.size()) {
    const AddedToken* best = nullptr;
    for (const auto& t : specials.added)
      if (!t.text.empty() && text.compare(at, t.text.size(), t.text) == 0 && (!best || t.text.size() > best->text.size()))
        best = &t;
    if (!best) {
      ++at;
      continue;
    }
    parts.push_back({text.substr(start, at - start), std::nullopt});
    tokens.push_back(nullptr);
    parts.push_back({text.substr(at, best->text.size()), best->id});
    tokens.push_back(best);
    at += best->text.size();
    start = at;
  }
  parts.push_back({text.substr(start), std::nullopt});
  tokens.push_back(nullptr);
  // Pass 2: an added token with rstrip eats the whitespace after it, lstrip the whitespace before.
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!tokens[i]) continue;
    if (tokens[i]->lstrip && i > 0 && !tokens[i - 1]) parts[i - 1].text = trim_right(parts[i - 1].text);
    if (tokens[i]->rstrip && i + 1 < parts.size() && !tokens[i + 1]) parts[i + 1].text = trim_left(parts[i + 1].text);
  }
  std::vector<Segment> out;
  for (const auto& p : parts)
    if (p.added || !p.text.empty()) out.push_back(p);
  return out;
}

}  // namespace allm::spm
