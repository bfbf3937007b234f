// Regular expressions (the ECMA-262 subset JSON Schema `pattern` uses) parsed
// to a tree over code-point sets, then emitted as byte automata.
#include <string>

#include "allm/error.hpp"
#include "grammar_ir.hpp"

namespace allm::grammar {

namespace {

const CodeRanges kDigit = {{'0', '9'}};
const CodeRanges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const CodeRanges kSpace = {{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x2000, 0x200A},
                           {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
const CodeRanges kDot = complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}});
const CodeRanges kAny = {{0, 0x10FFFF}};

class RegexParser {
 public:
  RegexParser(std::string_view text, std::string where) : where_(std::move(where)) {
    // Decode UTF-8 once; positions in errors are code-point offsets.
    for (size_t i = 0; i < text.size();) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      if (n == 0 || i + static_cast<size_t>(n) > text.size()) fail("invalid UTF-8");
      uint32_t cp = n == 1 ? c : (c & (0x7F >> n));
      for (int k = 1; k < n; ++k) {
        unsigned char cc = static_cast<unsigned char>(text[i + static_cast<size_t>(k)]);
        if ((cc & 0xC0) != 0x80) fail("invalid UTF-8");
        cp = (cp << 6) | (cc & 0x3F);
      }
      cps_.push_back(cp);
      i += static_cast<size_t>(n);
    }
  }

  RegexNode parse(bool search) {
    RegexNode top;
    top.kind = RegexNode::Alt;
    do {
      bool anchored_start = false, anchored_end = false;
      if (peek('^')) ++pos_, anchored_start = true;
      RegexNode branch = parse_seq(&anchored_end);
      if (search) {
        RegexNode s;
        s.kind = RegexNode::Seq;
        if (!anchored_start) s.kids.push_back(any_star());
        s.kids.push_back(std::move(branch));
        if (!anchored_end) s.kids.push_back(any_star());
        branch = std::move(s);
      }
      top.kids.push_back(std::move(branch));
    } while (eat('|'));
    if (pos_ < cps_.size()) fail("unbalanced ')'");
    return top.kids.size() == 1 ? std::move(top.kids[0]) : top;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InvalidArgumentError(where_ + ": regex error at offset " + std::to_string(pos_) + ": " + what);
  }
  bool peek(uint32_t c) const { return pos_ < cps_.size() && cps_[pos_] == c; }
  bool eat(uint32_t c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  static RegexNode any_star() {
    RegexNode any{RegexNode::Chars, kAny, {}, 0, 0};
    RegexNode r{RegexNode::Repeat, {}, {}, 0, -1};
    r.kids.push_back(std::move(any));
    return r;
  }

  // A sequence up to '|' or ')'. `end_anchor`: the top-level branch ended with '$'.
  RegexNode parse_seq(bool* end_anchor) {
    RegexNode seq;
    seq.kind = RegexNode::Seq;
    while (pos_ < cps_.size() && !peek('|') && !peek(')')) {
      if (peek('$')) {
        ++pos_;
        if (end_anchor && (pos_ == cps_.size() || peek('|'))) {
          *end_anchor = true;
          continue;
        }
        fail("'$' is supported only at the end of the pattern");
      }
      if (peek('^')) fail("'^' is supported only at the start of the pattern");
      RegexNode atom = parse_atom();
      parse_quantifier(atom);
      seq.kids.push_back(std::move(atom));
    }
    return seq;
  }

  void parse_quantifier(RegexNode& atom) {
    for (;;) {
      int64_t min, max;
      if (eat('*')) min = 0, max = -1;
      else if (eat('+')) min = 1, max = -1;
      else if (eat('?')) min = 0, max = 1;
      else if (peek('{') && brace_quantifier(min, max)) {}
      else return;
      // Lazy and possessive suffixes change which match is found, not whether one exists.
      if (!eat('?')) eat('+');
      RegexNode r{RegexNode::Repeat, {}, {}, min, max};
      r.kids.push_back(std::move(atom));
      atom = std::move(r);
    }
  }

  bool brace_quantifier(int64_t& min, int64_t& max) {
    size_t save = pos_;
    ++pos_;
    auto number = [&](int64_t& out) {
      size_t start = pos_;
      out = 0;
      while (pos_ < cps_.size() && cps_[pos_] >= '0' && cps_[pos_] <= '9') {
        out = out * 10 + (cps_[pos_] - '0');
        if (out > 1'000'000) fail("repetition count too large");
        ++pos_;
      }
      return pos_ > start;
    };
    if (!number(min)) {
      pos_ = save;  // a literal '{', as ECMA allows outside unicode mode
      return false;
    }
    max = min;
    if (eat(',')) {
      if (!number(max)) max = -1;
    }
    if (!eat('}')) {
      pos_ = save;
      return false;
    }
    if (max >= 0 && max < min) fail("repetition {min,max} with max < min");
    return true;
  }

  RegexNode chars(CodeRanges r) { return RegexNode{RegexNode::Chars, normalize(std::move(r)), {}, 0, 0}; }

  RegexNode parse_atom() {
    uint32_t c = cps_[pos_++];
    switch (c) {
      case '(': {
        if (eat('?')) {
          if (eat(':')) {
          } else if (peek('<') && pos_ + 1 < cps_.size() && cps_[pos_ + 1] != '=' && cps_[pos_ + 1] != '!') {
            while (pos_ < cps_.size() && cps_[pos_] != '>') ++pos_;
            if (!eat('>')) fail("unterminated group name");
          } else {
            fail("look-around and inline flags are not supported");
          }
        }
        RegexNode inner;
        inner.kind = RegexNode::Alt;
        do inner.kids.push_back(parse_seq(nullptr));
        while (eat('|'));
        if (!eat(')')) fail("missing ')'");
        return inner;
      }
      case ')': fail("unbalanced ')'");
      case '*': case '+': case '?': fail("quantifier without an atom");
      case '.': return chars(kDot);
      case '[': return parse_class();
      case '\\': {
        CodeRanges set;
        if (!class_escape(set, false)) fail("unsupported escape");
        return chars(set);
      }
      default: return chars({{c, c}});
    }
  }

  uint32_t hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      if (pos_ >= cps_.size()) fail("truncated escape");
      uint32_t d = cps_[pos_++];
      if (d >= '0' && d <= '9') v = v * 16 + (d - '0');
      else if (d >= 'a' && d <= 'f') v = v * 16 + (d - 'a' + 10);
      else if (d >= 'A' && d <= 'F') v = v * 16 + (d - 'A' + 10);
      else fail("bad hex digit in escape");
    }
    return v;
  }

  // After a backslash: fills `set`. Returns false for escapes that are not a character set.
  bool class_escape(CodeRanges& set, bool in_class) {
    if (pos_ >= cps_.size()) fail("trailing backslash");
    uint32_t c = cps_[pos_++];
    switch (c) {
      case 'd': set = kDigit; return true;
      case 'D': set = complement(kDigit); return true;
      case 'w': set = kWord; return true;
      case 'W': set = complement(kWord); return true;
      case 's': set = kSpace; return true;
      case 'S': set = complement(kSpace); return true;
      case 'n': set = {{'\n', '\n'}}; return true;
      case 'r': set = {{'\r', '\r'}}; return true;
      case 't': set = {{'\t', '\t'}}; return true;
      case 'f': set = {{'\f', '\f'}}; return true;
      case 'v': set = {{'\v', '\v'}}; return true;
      case '0': set = {{0, 0}}; return true;
      case 'x': { uint32_t v = hex(2); set = {{v, v}}; return true; }
      case 'u': {
        uint32_t v;
        if (eat('{')) {
          v = 0;
          while (!eat('}')) {
            v = v * 16 + hex(1);
            if (v > 0x10FFFF) fail("code point out of range");
          }
        } else {
          v = hex(4);
        }
        set = {{v, v}};
        return true;
      }
      case 'b':
        if (in_class) { set = {{8, 8}}; return true; }
        fail("word boundaries (\\b) are not supported");
      case 'B': fail("word boundaries (\\B) are not supported");
      case 'p': case 'P': fail("Unicode property escapes are not supported");
      case 'k': fail("back-references are not supported");
      default:
        if (c >= '1' && c <= '9') fail("back-references are not supported");
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) fail(std::string("unknown escape \\") + static_cast<char>(c));
        set = {{c, c}};
        return true;
    }
  }

  RegexNode parse_class() {
    bool negate = eat('^');
    CodeRanges set;
    bool first = true;
    while (true) {
      if (pos_ >= cps_.size()) fail("missing ']'");
      if (peek(']') && !(first && false)) {
        ++pos_;
        break;
      }
      first = false;
      CodeRanges item;
      uint32_t single = 0;
      bool is_single = false;
      uint32_t c = cps_[pos_++];
      if (c == '\\') {
        class_escape(item, true);
        if (item.size() == 1 && item[0].first == item[0].second) is_single = true, single = item[0].first;
      } else {
        is_single = true, single = c;
        item = {{c, c}};
      }
      if (is_single && peek('-') && pos_ + 1 < cps_.size() && cps_[pos_ + 1] != ']') {
        ++pos_;
        uint32_t hi_c = cps_[pos_++];
        uint32_t hi = hi_c;
        if (hi_c == '\\') {
          CodeRanges h;
          class_escape(h, true);
          if (h.size() != 1 || h[0].first != h[0].second) fail("class range ends in a set");
          hi = h[0].first;
        }
        if (hi < single) fail("class range out of order");
        item = {{single, hi}};
      }
      set.insert(set.end(), item.begin(), item.end());
    }
    set = normalize(set);
    return chars(negate ? complement(set) : set);
  }

  std::string where_;
  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
};

}  // namespace

RegexNode parse_regex(std::string_view pattern, bool search_semantics, const std::string& where) {
  return RegexParser(pattern, where).parse(search_semantics);
}

Frag emit_regex(Builder& b, const RegexNode& n, bool json, const std::string& where) {
  switch (n.kind) {
    case RegexNode::Empty: return b.empty();
    case RegexNode::Ref: return b.call(static_cast<int32_t>(n.min));
    case RegexNode::Chars: return json ? b.json_char(n.chars, false) : b.utf8(n.chars);
    case RegexNode::Seq: {
      std::vector<Frag> parts;
      for (auto& k : n.kids) parts.push_back(emit_regex(b, k, json, where));
      return b.seq(parts);
    }
    case RegexNode::Alt: {
      std::vector<Frag> parts;
      for (auto& k : n.kids) parts.push_back(emit_regex(b, k, json, where));
      if (parts.empty()) return b.empty();
      return b.alt(parts);
    }
    case RegexNode::Repeat:
      return b.repeat([&] { return emit_regex(b, n.kids[0], json, where); }, n.min, n.max, where);
  }
  return b.empty();
}

std::shared_ptr<const Grammar> compile_regex(std::string_view pattern) {
  Builder b;
  RegexNode tree = parse_regex(pattern, false, "regex");
  int32_t root = b.declare_rule("root");
  b.define_rule(root, emit_regex(b, tree, false, "regex"));
  return b.finish(root);
}

}  // namespace allm::grammar
