// Thompson construction of byte automata, UTF-8 encoding of code-point sets,
// and the checks a grammar must pass before a matcher may run it.
#include <algorithm>
#include <deque>

#include "allm/error.hpp"
#include "grammar_ir.hpp"

namespace allm::grammar {

namespace {
constexpr size_t kMaxNodes = 4'000'000;

bool contains(const CodeRanges& set, uint32_t cp) {
  for (auto& [lo, hi] : set)
    if (cp >= lo && cp <= hi) return true;
  return false;
}

CodeRanges intersect(const CodeRanges& a, const CodeRanges& b) {
  CodeRanges out;
  for (auto& [alo, ahi] : a)
    for (auto& [blo, bhi] : b) {
      uint32_t lo = std::max(alo, blo), hi = std::min(ahi, bhi);
      if (lo <= hi) out.emplace_back(lo, hi);
    }
  return normalize(out);
}

void encode(uint32_t cp, int n, uint8_t* out) {
  if (n == 1) {
    out[0] = static_cast<uint8_t>(cp);
    return;
  }
  for (int i = n - 1; i > 0; --i) {
    out[i] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    cp >>= 6;
  }
  static const uint8_t lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
  out[0] = static_cast<uint8_t>(lead[n] | cp);
}

// Splits [lo, hi] (same encoded length) into ranges whose UTF-8 forms are
// products of byte ranges (the classic utf8-ranges algorithm).
void split_same_length(uint32_t lo, uint32_t hi, int n, std::vector<std::vector<std::pair<uint8_t, uint8_t>>>& out) {
  for (int i = 1; i < n; ++i) {
    uint32_t m = (1u << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        split_same_length(lo, lo | m, n, out);
        split_same_length((lo | m) + 1, hi, n, out);
        return;
      }
      if ((hi & m) != m) {
        split_same_length(lo, (hi & ~m) - 1, n, out);
        split_same_length(hi & ~m, hi, n, out);
        return;
      }
    }
  }
  uint8_t a[4], b[4];
  encode(lo, n, a);
  encode(hi, n, b);
  std::vector<std::pair<uint8_t, uint8_t>> seq;
  for (int i = 0; i < n; ++i) seq.emplace_back(a[i], b[i]);
  out.push_back(std::move(seq));
}
}  // namespace

CodeRanges normalize(CodeRanges r) {
  std::sort(r.begin(), r.end());
  CodeRanges out;
  for (auto& [lo, hi] : r) {
    if (lo > hi) continue;
    if (!out.empty() && lo <= out.back().second + 1)
      out.back().second = std::max(out.back().second, hi);
    else
      out.emplace_back(lo, hi);
  }
  return out;
}

CodeRanges complement(const CodeRanges& r0) {
  CodeRanges r = normalize(r0), out;
  uint32_t next = 0;
  for (auto& [lo, hi] : r) {
    if (lo > next) out.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= 0x10FFFF) out.emplace_back(next, 0x10FFFF);
  return out;
}

int32_t Builder::node() {
  if (grammar_.nodes.size() >= kMaxNodes)
    throw InvalidArgumentError("grammar too large (over " + std::to_string(kMaxNodes) + " automaton states)");
  grammar_.nodes.emplace_back();
  return static_cast<int32_t>(grammar_.nodes.size() - 1);
}

int32_t Builder::declare_rule(std::string name) {
  grammar_.rules.push_back(Rule{-1, -1, std::move(name)});
  return static_cast<int32_t>(grammar_.rules.size() - 1);
}

void Builder::define_rule(int32_t rule, Frag body) {
  auto& r = grammar_.rules[static_cast<size_t>(rule)];
  r.start = body.start;
  int32_t end = node();
  add(body.end, Edge{0, 0, kEpsilon, end});
  grammar_.nodes[static_cast<size_t>(end)].rule_end = true;
  r.end = end;
}

Frag Builder::empty() {
  int32_t n = node();
  return {n, n};
}

Frag Builder::bytes(uint8_t lo, uint8_t hi) {
  int32_t s = node(), e = node();
  add(s, Edge{lo, hi, kByteEdge, e});
  return {s, e};
}

Frag Builder::literal(std::string_view s) {
  int32_t start = node(), cur = start;
  for (unsigned char c : s) {
    int32_t n = node();
    add(cur, Edge{c, c, kByteEdge, n});
    cur = n;
  }
  return {start, cur};
}

Frag Builder::call(int32_t rule) {
  int32_t s = node(), e = node();
  add(s, Edge{0, 0, rule, e});
  return {s, e};
}

Frag Builder::seq(const std::vector<Frag>& parts) {
  if (parts.empty()) return empty();
  for (size_t i = 1; i < parts.size(); ++i) add(parts[i - 1].end, Edge{0, 0, kEpsilon, parts[i].start});
  return {parts.front().start, parts.back().end};
}

Frag Builder::alt(const std::vector<Frag>& options) {
  if (options.size() == 1) return options[0];
  int32_t s = node(), e = node();
  for (auto& f : options) {
    add(s, Edge{0, 0, kEpsilon, f.start});
    add(f.end, Edge{0, 0, kEpsilon, e});
  }
  return {s, e};
}

Frag Builder::opt(Frag f) {
  int32_t s = node(), e = node();
  add(s, Edge{0, 0, kEpsilon, f.start});
  add(s, Edge{0, 0, kEpsilon, e});
  add(f.end, Edge{0, 0, kEpsilon, e});
  return {s, e};
}

Frag Builder::star(Frag f) {
  int32_t s = node(), e = node();
  add(s, Edge{0, 0, kEpsilon, f.start});
  add(s, Edge{0, 0, kEpsilon, e});
  add(f.end, Edge{0, 0, kEpsilon, f.start});
  add(f.end, Edge{0, 0, kEpsilon, e});
  return {s, e};
}

Frag Builder::plus(Frag f) {
  int32_t e = node();
  add(f.end, Edge{0, 0, kEpsilon, f.start});
  add(f.end, Edge{0, 0, kEpsilon, e});
  return {f.start, e};
}

Frag Builder::repeat(const std::function<Frag()>& make, int64_t min, int64_t max, const std::string& what) {
  if (min < 0 || (max >= 0 && max < min))
    throw InvalidArgumentError(what + ": repetition bounds {" + std::to_string(min) + "," + std::to_string(max) +
                               "} are empty");
  if (min > kMaxRepeat || max > kMaxRepeat)
    throw InvalidArgumentError(what + ": repetition bound over " + std::to_string(kMaxRepeat) + " is not supported");
  // Every copy of x after the first costs the same number of states (the
  // first may also define rules that later copies only call): a repeat that
  // would pass the state limit is refused before it is built, not after
  // minutes of building (nested bounded repeats multiply: ((x{9}){9}){9}...).
  const uint64_t copies = max < 0 ? static_cast<uint64_t>(std::max<int64_t>(min, 1)) : static_cast<uint64_t>(max);
  std::deque<Frag> built;
  if (copies > 0) built.push_back(make());
  if (copies > 2) {
    const size_t before = grammar_.nodes.size();
    built.push_back(make());
    const uint64_t per_copy = grammar_.nodes.size() - before;
    if (grammar_.nodes.size() + per_copy * (copies - 2) > kMaxNodes)
      throw InvalidArgumentError(what + ": a repetition expands past the grammar size limit of " +
                                 std::to_string(kMaxNodes) + " automaton states");
  }
  auto copy = [&] {
    if (built.empty()) return make();
    Frag f = built.front();
    built.pop_front();
    return f;
  };
  std::vector<Frag> parts;
  if (max < 0) {
    // x{m,} as x^(m-1) x+ (x* for m = 0): the loop reuses the last mandatory
    // copy, so x+ and x* emit x once and nested unbounded repeats ((x+)+)+
    // stay linear in size (emitting x twice per level made them 2^depth).
    for (int64_t i = 1; i < min; ++i) parts.push_back(copy());
    parts.push_back(min == 0 ? star(copy()) : plus(copy()));
    return seq(parts);
  }
  for (int64_t i = 0; i < min; ++i) parts.push_back(copy());
  if (max > min) {
    // x{0,k} as a chain of copies, each (and the start) with an epsilon to
    // one shared exit: a copy is reached once, and leaving after any copy is
    // one step (nested (x (x)?)? put k epsilon hops after the last copy, so
    // every position of a maxLength string closed over all the rest).
    int32_t start = node(), exit = node(), cur = start;
    for (int64_t i = min; i < max; ++i) {
      Frag c = copy();
      add(cur, Edge{0, 0, kEpsilon, exit});
      add(cur, Edge{0, 0, kEpsilon, c.start});
      cur = c.end;
    }
    add(cur, Edge{0, 0, kEpsilon, exit});
    parts.push_back(Frag{start, exit});
  }
  return seq(parts);
}

std::vector<Edge> Builder::leading_bytes(int32_t start) const {
  std::vector<Edge> out;
  std::vector<int32_t> todo{start}, seen{start};
  while (!todo.empty()) {
    int32_t n = todo.back();
    todo.pop_back();
    for (const Edge& e : grammar_.nodes[static_cast<size_t>(n)].edges) {
      if (e.call == kByteEdge) out.push_back(e);
      else if (e.call == kEpsilon && std::find(seen.begin(), seen.end(), e.to) == seen.end())
        seen.push_back(e.to), todo.push_back(e.to);
    }
  }
  return out;
}

Frag Builder::utf8(const CodeRanges& set0) {
  CodeRanges set = intersect(set0, {{0, 0xD7FF}, {0xE000, 0x10FFFF}});
  std::vector<std::vector<std::pair<uint8_t, uint8_t>>> seqs;
  static const uint32_t bounds[4][2] = {{0, 0x7F}, {0x80, 0x7FF}, {0x800, 0xFFFF}, {0x10000, 0x10FFFF}};
  for (auto& [lo, hi] : set)
    for (int n = 1; n <= 4; ++n) {
      uint32_t a = std::max(lo, bounds[n - 1][0]), b = std::min(hi, bounds[n - 1][1]);
      if (a <= b) split_same_length(a, b, n, seqs);
    }
  if (seqs.empty()) {
    // The empty set: a fragment no byte can cross.
    int32_t s = node(), e = node();
    return {s, e};
  }
  int32_t s = node(), e = node();
  for (auto& sq : seqs) {
    int32_t cur = s;
    for (size_t i = 0; i < sq.size(); ++i) {
      int32_t n = i + 1 == sq.size() ? e : node();
      add(cur, Edge{sq[i].first, sq[i].second, kByteEdge, n});
      cur = n;
    }
  }
  return {s, e};
}

Frag Builder::json_char(const CodeRanges& set0, bool unicode_escapes) {
  CodeRanges set = normalize(set0);
  std::vector<Frag> options;
  CodeRanges raw = intersect(set, {{0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0x10FFFF}});
  if (!raw.empty()) options.push_back(utf8(raw));
  auto hexdigit = [&] {
    int32_t s = node(), e = node();
    add(s, Edge{'0', '9', kByteEdge, e});
    add(s, Edge{'a', 'f', kByteEdge, e});
    add(s, Edge{'A', 'F', kByteEdge, e});
    return Frag{s, e};
  };
  if (unicode_escapes) {
    // \" \\ \/ \b \f \n \r \t and \uXXXX outside the surrogates: one character each.
    int32_t s = node(), e = node();
    for (char c : std::string("\"\\/bfnrt")) add(s, Edge{static_cast<uint8_t>(c), static_cast<uint8_t>(c), kByteEdge, e});
    Frag shorts{s, e};
    Frag lead1 = bytes('0', '9');
    add(lead1.start, Edge{'a', 'c', kByteEdge, lead1.end});
    add(lead1.start, Edge{'A', 'C', kByteEdge, lead1.end});
    add(lead1.start, Edge{'e', 'f', kByteEdge, lead1.end});
    add(lead1.start, Edge{'E', 'F', kByteEdge, lead1.end});
    Frag any3 = seq({lead1, hexdigit(), hexdigit(), hexdigit()});
    Frag d = alt({literal("d"), literal("D")});
    Frag low = seq({d, bytes('0', '7'), hexdigit(), hexdigit()});
    Frag u = seq({literal("u"), alt({any3, low})});
    options.push_back(seq({literal("\\"), alt({shorts, u})}));
    return alt(options);
  }
  static const std::pair<uint32_t, char> shorts[] = {{'"', '"'},  {'\\', '\\'}, {0x08, 'b'}, {0x0C, 'f'},
                                                     {0x0A, 'n'}, {0x0D, 'r'},  {0x09, 't'}};
  for (auto& [cp, c] : shorts)
    if (contains(set, cp)) options.push_back(literal(std::string("\\") + c));
  // The other controls as \u00XX (hex digits in either case): one small
  // automaton, "\u00", the high digit, an edge per low digit.
  Frag prefix{-1, -1};  // "\u00"
  int32_t end = -1, after_hi[2] = {-1, -1};
  for (uint32_t cp = 0; cp < 0x20; ++cp) {
    if (cp == 0x08 || cp == 0x0C || cp == 0x0A || cp == 0x0D || cp == 0x09 || !contains(set, cp)) continue;
    static const char* hex = "0123456789abcdef";
    if (prefix.start < 0) prefix = literal("\\u00"), end = node();
    int32_t& mid = after_hi[cp >> 4];
    if (mid < 0) {
      mid = node();
      auto h = static_cast<uint8_t>(hex[cp >> 4]);
      add(prefix.end, Edge{h, h, kByteEdge, mid});
    }
    auto lo = static_cast<uint8_t>(hex[cp & 15]);
    add(mid, Edge{lo, lo, kByteEdge, end});
    if (lo >= 'a') add(mid, Edge{static_cast<uint8_t>(lo - 32), static_cast<uint8_t>(lo - 32), kByteEdge, end});
  }
  if (prefix.start >= 0) options.push_back(Frag{prefix.start, end});
  if (options.empty()) {
    int32_t s = node(), e = node();
    return {s, e};
  }
  return alt(options);
}

std::shared_ptr<const Grammar> Builder::finish(int32_t root) {
  auto& g = grammar_;
  for (auto& r : g.rules)
    if (r.end < 0) throw InvalidArgumentError("grammar rule '" + r.name + "' is referenced but never defined");
  g.root = root;
  const size_t nr = g.rules.size();
  // Nullable rules (a fixpoint), then the rules each rule can call before
  // consuming a byte; a cycle there is left recursion.
  std::vector<char> nullable(nr, 0);
  // Visited marks are stamped per search, so each search costs the nodes it
  // visits, not the whole grammar (thousands of rules over a million nodes).
  std::vector<uint32_t> seen(g.nodes.size(), 0);
  uint32_t stamp = 0;
  std::vector<int32_t> stack;
  auto reach_end = [&](int32_t start, std::vector<int32_t>* left_calls) {
    stack.assign(1, start);
    ++stamp;
    bool end = false;
    while (!stack.empty()) {
      int32_t n = stack.back();
      stack.pop_back();
      if (seen[static_cast<size_t>(n)] == stamp) continue;
      seen[static_cast<size_t>(n)] = stamp;
      if (g.nodes[static_cast<size_t>(n)].rule_end) end = true;
      for (auto& e : g.nodes[static_cast<size_t>(n)].edges) {
        if (e.call == kEpsilon) {
          stack.push_back(e.to);
        } else if (e.call >= 0) {
          if (left_calls) left_calls->push_back(e.call);
          if (nullable[static_cast<size_t>(e.call)]) stack.push_back(e.to);
        }
      }
    }
    return end;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < nr; ++r)
      if (!nullable[r] && reach_end(g.rules[r].start, nullptr)) nullable[r] = 1, changed = true;
  }
  std::vector<std::vector<int32_t>> left(nr);
  for (size_t r = 0; r < nr; ++r) reach_end(g.rules[r].start, &left[r]);
  std::vector<int> color(nr, 0);  // 0 new, 1 on stack, 2 done
  std::function<void(size_t)> visit = [&](size_t r) {
    color[r] = 1;
    for (int32_t c : left[r]) {
      if (color[static_cast<size_t>(c)] == 1)
        throw InvalidArgumentError("grammar rule '" + g.rules[static_cast<size_t>(c)].name +
                                   "' is left-recursive (it can reach itself without consuming input)");
      if (color[static_cast<size_t>(c)] == 0) visit(static_cast<size_t>(c));
    }
    color[r] = 2;
  };
  for (size_t r = 0; r < nr; ++r)
    if (color[r] == 0) visit(r);
  return std::make_shared<const Grammar>(std::move(grammar_));
}

}  // namespace allm::grammar
