// Feeds random grammars to the compilers. Input: KIND SOURCE [ '\0' TEXT ],
// KIND one byte: 's' JSON Schema, 'g' GBNF, anything else a regex. What
// compiles is matched against TEXT byte by byte with a mask before each byte,
// which must equal the straightforward mask (Matcher::compute_mask_reference).
// InvalidArgumentError is an expected outcome; crashes, sanitizer reports,
// other exceptions and hangs are bugs.
#include <cstddef>
#include <cstdint>
#include <string>

#include "allm/error.hpp"
#include "allm/grammar.hpp"

namespace {
std::shared_ptr<const allm::grammar::TokenTrie> vocab() {
  static const auto trie = [] {
    std::vector<std::string> v;
    for (int b = 0; b < 256; ++b) v.emplace_back(1, static_cast<char>(b));
    for (const char* t : {"{\"", "\": ", "\", \"", "true", "null", "12", "abc", "\xC3\xA9", "},", ""}) v.emplace_back(t);
    // Every pair and some triples over JSON-ish bytes: subtrees large enough
    // for the matcher's whole-subtree shortcut.
    const std::string alphabet = "ab\"\\ :,{}[]019-.e\xC3\xA9";
    for (char x : alphabet)
      for (char y : alphabet) {
        v.push_back(std::string{x, y});
        if (y == 'a' || y == '"' || y == '1') v.push_back(std::string{x, y, x});
      }
    return std::make_shared<const allm::grammar::TokenTrie>(std::move(v));
  }();
  return trie;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string text;
  if (size_t split = input.find('\0'); split != std::string::npos) {
    text = input.substr(split + 1);
    input.resize(split);
  }
  std::shared_ptr<const allm::grammar::Grammar> g;
  try {
    if (data[0] == 's') g = allm::grammar::compile_json_schema_text(input);
    else if (data[0] == 'g') g = allm::grammar::compile_gbnf(input);
    else g = allm::grammar::compile_regex(input);
  } catch (const allm::InvalidArgumentError&) {
    return 0;
  }
  allm::grammar::Matcher m(g, vocab());
  std::vector<uint64_t> mask, reference;
  for (size_t i = 0; i < text.size() && i < 64; ++i) {
    m.compute_mask(mask);
    m.compute_mask_reference(reference);
    if (mask != reference) __builtin_trap();
    if (!m.advance_bytes(text.substr(i, 1))) break;
  }
  (void)m.is_accepting();
  return 0;
}
