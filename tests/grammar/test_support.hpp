#pragma once
// A matcher over a small vocabulary (every byte, plus a few multi-byte tokens)
// and whole-text acceptance through byte-by-byte advancing.
#include <memory>
#include <string>
#include <vector>

#include "allm/grammar.hpp"

namespace allm::grammar::test {

inline std::shared_ptr<const TokenTrie> small_vocab() {
  std::vector<std::string> v;
  for (int b = 0; b < 256; ++b) v.emplace_back(1, static_cast<char>(b));
  for (const char* t : {"{\"", "\": ", "\", \"", "\"}", "true", "false", "null", "12", "abc", "\",", " \"", "},",
                        "[1", ", ", "00", "\xC3\xA9", "\xC3", "x\"y", "", "-1"})
    v.emplace_back(t);
  return std::make_shared<const TokenTrie>(std::move(v));
}

inline bool accepts(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  Matcher m(g, small_vocab());
  return m.advance_bytes(text) && m.is_accepting();
}

}  // namespace allm::grammar::test
