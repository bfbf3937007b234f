#include "pattern.hpp"

#include <stdexcept>

namespace allm::hf {

Pattern Pattern::literal(std::string text) {
  Pattern p;
  p.literal_ = std::move(text);
  return p;
}

Pattern Pattern::from_json(const JsonNode& node) {
  Pattern p;
  if (auto s = node.get("String")) {
    p.literal_ = s->as_string();
  } else if (auto r = node.get("Regex")) {
    try {
      p.regex_ = std::make_shared<Regex>(r->as_string());
    } catch (const std::invalid_argument& e) {
      r->fail(e.what());
    }
  } else {
    node.fail("expected a pattern {\"String\": ...} or {\"Regex\": ...}");
  }
  return p;
}

void Pattern::spans(std::string_view text, std::vector<Span>& out) const {
  out.clear();
  if (text.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  size_t prev = 0;
  for_each_match(text, [&](size_t start, size_t end) {
    if (prev != start) out.push_back({prev, start, false});
    out.push_back({start, end, true});
    prev = end;
  });
  if (prev != text.size()) out.push_back({prev, text.size(), false});
}

std::string Pattern::replace_all(std::string_view text, std::string_view with) const {
  std::string out;
  out.reserve(text.size());
  size_t prev = 0;
  for_each_match(text, [&](size_t start, size_t end) {
    out.append(text.substr(prev, start - prev));
    out.append(with);
    prev = end;
  });
  out.append(text.substr(prev));
  return out;
}

}  // namespace allm::hf
