#pragma once
// The compiled grammar: rules as byte automata (Thompson construction), plus
// the builder every front end (JSON Schema, GBNF, regex) emits into.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "allm/grammar.hpp"

namespace allm::grammar {

enum : int32_t { kByteEdge = -1, kEpsilon = -2 };

struct Edge {
  uint8_t lo = 0, hi = 0;  // byte range, for kByteEdge
  int32_t call = kByteEdge;  // kByteEdge, kEpsilon, or the rule called
  int32_t to = 0;          // node reached (after the call returns, for calls)
};

struct Node {
  std::vector<Edge> edges;
  bool rule_end = false;
};

struct Rule {
  int32_t start = 0, end = 0;
  std::string name;
};

struct Grammar {
  std::vector<Node> nodes;
  std::vector<Rule> rules;
  int32_t root = 0;
};

// Sets of Unicode code points, as sorted disjoint inclusive ranges.
using CodeRanges = std::vector<std::pair<uint32_t, uint32_t>>;
CodeRanges normalize(CodeRanges r);
CodeRanges complement(const CodeRanges& r);  // within [0, 0x10FFFF]

struct Frag {
  int32_t start, end;
};

class Builder {
 public:
  Builder() = default;
  // Rules are declared first (so they can be referenced before their body exists).
  int32_t declare_rule(std::string name);
  void define_rule(int32_t rule, Frag body);
  bool defined(int32_t rule) const { return grammar_.rules[static_cast<size_t>(rule)].end >= 0; }

  int32_t node();
  Frag empty();
  Frag bytes(uint8_t lo, uint8_t hi);
  Frag literal(std::string_view s);
  Frag call(int32_t rule);
  Frag seq(const std::vector<Frag>& parts);
  Frag alt(const std::vector<Frag>& options);
  Frag opt(Frag f);
  Frag star(Frag f);
  Frag plus(Frag f);
  // `make` builds a fresh copy each call; min..max copies (max < 0: unbounded).
  Frag repeat(const std::function<Frag()>& make, int64_t min, int64_t max, const std::string& what);

  // Code points, UTF-8 encoded (raw = regex/GBNF text), or as JSON string
  // content (raw where JSON allows, escaped otherwise; `unicode_escapes` also
  // allows \uXXXX for any non-surrogate code point, each counting one char).
  // Hand-wired automata (fragments sharing nodes): an epsilon or a byte range
  // from one node to another, and the byte edges a node reads first (through
  // epsilons, not calls).
  void epsilon(int32_t from, int32_t to) { add(from, Edge{0, 0, kEpsilon, to}); }
  void byte_edge(int32_t from, uint8_t lo, uint8_t hi, int32_t to) { add(from, Edge{lo, hi, kByteEdge, to}); }
  std::vector<Edge> leading_bytes(int32_t node) const;

  Frag utf8(const CodeRanges& set);
  Frag json_char(const CodeRanges& set, bool unicode_escapes);

  // Throws InvalidArgumentError when a rule calls itself before consuming a
  // byte (the matcher would never terminate) or a rule was never defined.
  std::shared_ptr<const Grammar> finish(int32_t root);

  static constexpr int64_t kMaxRepeat = 4096;

 private:
  void add(int32_t from, Edge e) { grammar_.nodes[static_cast<size_t>(from)].edges.push_back(e); }
  Grammar grammar_;
};

// Front-end helpers shared by the regex and GBNF parsers.
struct RegexNode {
  enum Kind { Chars, Seq, Alt, Repeat, Empty, Ref } kind = Empty;  // Ref: call rule `min`
  CodeRanges chars;
  std::vector<RegexNode> kids;
  int64_t min = 0, max = 0;
};
// Parses a regex (ECMA-262 subset, no look-around or back-references).
// `anchored`: the whole text must match; otherwise `^`/`$` anchor and the
// rest is a search (JSON Schema `pattern`). Errors name `where` and the offset.
RegexNode parse_regex(std::string_view pattern, bool search_semantics, const std::string& where);
// Emits a regex tree; `json` picks Builder::json_char over Builder::utf8.
Frag emit_regex(Builder& b, const RegexNode& n, bool json, const std::string& where);

}  // namespace allm::grammar
