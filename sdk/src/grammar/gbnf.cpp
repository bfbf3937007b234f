// GBNF (llama.cpp's grammar format): `name ::= alternatives` rules over
// "literals", [classes], `.`, groups, rule references and * + ? {m,n}; the
// start rule is `root`. Errors name the line and column.
#include <map>

#include "allm/error.hpp"
#include "grammar_ir.hpp"

namespace allm::grammar {

namespace {
class GbnfParser {
 public:
  GbnfParser(std::string_view text, Builder& b) : s_(text), b_(b) {}

  std::shared_ptr<const Grammar> parse() {
    std::map<int32_t, RegexNode> bodies;
    skip(true);
    while (pos_ < s_.size()) {
      std::string name = ident();
      if (name.empty()) fail("expected a rule name");
      skip(false);
      if (s_.compare(pos_, 3, "::=") != 0) fail("expected '::=' after rule name '" + name + "'");
      pos_ += 3;
      skip(true);
      int32_t r = rule(name);
      if (bodies.count(r)) fail("rule '" + name + "' is defined twice");
      bodies[r] = alternatives(false);
      skip(true);
    }
    auto root = names_.find("root");
    if (root == names_.end()) throw InvalidArgumentError("GBNF: no 'root' rule");
    for (auto& [name, r] : names_)
      if (!bodies.count(r)) throw InvalidArgumentError("GBNF: rule '" + name + "' is referenced but never defined");
    for (auto& [r, body] : bodies) b_.define_rule(r, emit_regex(b_, body, false, "GBNF rule"));
    return b_.finish(root->second);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') ++line, col = 1;
      else ++col;
    }
    throw InvalidArgumentError("GBNF line " + std::to_string(line) + ", column " + std::to_string(col) + ": " + what);
  }

  int32_t rule(const std::string& name) {
    auto it = names_.find(name);
    if (it != names_.end()) return it->second;
    int32_t r = b_.declare_rule(name);
    names_[name] = r;
    return r;
  }

  // Spaces and comments; newlines too when `newlines` (inside groups, between rules).
  void skip(bool newlines) {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  std::string ident() {
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' || s_[pos_] == '_'))
      ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  uint32_t utf8_char() {
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || pos_ + static_cast<size_t>(n) > s_.size()) fail("invalid UTF-8");
    uint32_t cp = n == 1 ? c : (c & (0x7F >> n));
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s_[pos_ + static_cast<size_t>(k)]) & 0x3F);
    pos_ += static_cast<size_t>(n);
    return cp;
  }

  uint32_t hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      if (pos_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[pos_]))) fail("bad hex escape");
      char c = s_[pos_++];
      v = v * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10));
    }
    if (v > 0x10FFFF) fail("code point out of range");
    return v;
  }

  uint32_t char_or_escape() {
    if (pos_ >= s_.size()) fail("unexpected end of grammar");
    if (s_[pos_] != '\\') return utf8_char();
    ++pos_;
    if (pos_ >= s_.size()) fail("trailing backslash");
    char c = s_[pos_++];
    switch (c) {
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      case '\\': return '\\';
      case '"': return '"';
      case '\'': return '\'';
      case '[': return '[';
      case ']': return ']';
      case '-': return '-';
      case '^': return '^';
      case 'x': return hex(2);
      case 'u': return hex(4);
      case 'U': return hex(8);
      default: fail(std::string("unknown escape '\\") + c + "'");
    }
  }

  RegexNode alternatives(bool nested) {
    RegexNode alt;
    alt.kind = RegexNode::Alt;
    for (;;) {
      alt.kids.push_back(sequence(nested));
      size_t save = pos_;
      skip(true);  // an alternative may continue on the next line, led by '|'
      if (pos_ < s_.size() && s_[pos_] == '|') {
        ++pos_;
        skip(true);
        continue;
      }
      pos_ = save;
      break;
    }
    return alt;
  }

  RegexNode sequence(bool nested) {
    RegexNode seq;
    seq.kind = RegexNode::Seq;
    for (;;) {
      skip(nested);
      if (pos_ >= s_.size()) break;
      char c = s_[pos_];
      RegexNode atom;
      if (c == '"') {
        ++pos_;
        atom.kind = RegexNode::Seq;
        while (pos_ < s_.size() && s_[pos_] != '"') {
          uint32_t cp = char_or_escape();
          atom.kids.push_back(RegexNode{RegexNode::Chars, {{cp, cp}}, {}, 0, 0});
        }
        if (pos_ >= s_.size()) fail("unterminated string literal");
        ++pos_;
      } else if (c == '[') {
        ++pos_;
        bool negate = pos_ < s_.size() && s_[pos_] == '^';
        if (negate) ++pos_;
        CodeRanges set;
        while (pos_ < s_.size() && s_[pos_] != ']') {
          uint32_t lo = char_or_escape(), hi = lo;
          if (pos_ + 1 < s_.size() && s_[pos_] == '-' && s_[pos_ + 1] != ']') {
            ++pos_;
            hi = char_or_escape();
            if (hi < lo) fail("character range out of order");
          }
          set.emplace_back(lo, hi);
        }
        if (pos_ >= s_.size()) fail("unterminated character class");
        ++pos_;
        set = normalize(set);
        atom = RegexNode{RegexNode::Chars, negate ? complement(set) : set, {}, 0, 0};
      } else if (c == '.') {
        ++pos_;
        atom = RegexNode{RegexNode::Chars, {{0, 0x10FFFF}}, {}, 0, 0};
      } else if (c == '(') {
        ++pos_;
        skip(true);
        atom = alternatives(true);
        skip(true);
        if (pos_ >= s_.size() || s_[pos_] != ')') fail("missing ')'");
        ++pos_;
      } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
        size_t save = pos_;
        std::string name = ident();
        size_t after = pos_;
        skip(false);
        if (s_.compare(pos_, 3, "::=") == 0) {  // the next rule starts (no newline in between is tolerated)
          pos_ = save;
          break;
        }
        pos_ = after;
        atom = RegexNode{RegexNode::Ref, {}, {}, rule(name), 0};
      } else if (c == '<') {
        fail("token references (<...>) are not supported");
      } else {
        break;
      }
      // Quantifiers.
      for (;;) {
        if (pos_ >= s_.size()) break;
        char q = s_[pos_];
        int64_t min, max;
        if (q == '*') min = 0, max = -1, ++pos_;
        else if (q == '+') min = 1, max = -1, ++pos_;
        else if (q == '?') min = 0, max = 1, ++pos_;
        else if (q == '{') {
          ++pos_;
          skip(false);
          min = number();
          max = min;
          skip(false);
          if (pos_ < s_.size() && s_[pos_] == ',') {
            ++pos_;
            skip(false);
            max = (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ? number() : -1;
            skip(false);
          }
          if (pos_ >= s_.size() || s_[pos_] != '}') fail("expected '}'");
          ++pos_;
        } else break;
        RegexNode r{RegexNode::Repeat, {}, {}, min, max};
        r.kids.push_back(std::move(atom));
        atom = std::move(r);
      }
      seq.kids.push_back(std::move(atom));
    }
    return seq;
  }

  int64_t number() {
    int64_t v = 0;
    size_t start = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      v = v * 10 + (s_[pos_++] - '0');
      if (v > 1'000'000) fail("repetition count too large");
    }
    if (pos_ == start) fail("expected a number");
    return v;
  }

  std::string_view s_;
  Builder& b_;
  size_t pos_ = 0;
  std::map<std::string, int32_t> names_;
};
}  // namespace

std::shared_ptr<const Grammar> compile_gbnf(std::string_view text) {
  Builder b;
  return GbnfParser(text, b).parse();
}

}  // namespace allm::grammar
