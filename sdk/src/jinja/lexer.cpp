#include "jinja/lexer.hpp"

#include <algorithm>
#include <cctype>

#include "jinja/source_error.hpp"
#include "jinja/utf8.hpp"

namespace allm::jinja {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }
bool is_ws(char c) { return is_blank(c) || c == '\n' || c == '\r'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Jinja reads the source line by line: \r\n and \r become \n, and one
// trailing newline is dropped (keep_trailing_newline is off).
std::string normalize_newlines(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out += '\n';
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      out += in[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  Lexer(const std::string& source, const std::string& origin) : src_(normalize_newlines(source)), origin_(origin) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool strip_next = false;  // previous tag ended with '-'
    while (pos <= src_.size()) {
      size_t tag = find_tag(pos);
      std::string text = src_.substr(pos, tag - pos);
      size_t text_start = pos;
      if (strip_next) {
        size_t k = 0;
        while (k < text.size() && is_ws(text[k])) ++k;
        text.erase(0, k);
        text_start += k;
      }
      strip_next = false;
      if (tag == src_.size()) {
        push_text(text, text_start);
        break;
      }
      char kind = src_[tag + 1];
      size_t after = tag + 2;
      bool minus = after < src_.size() && src_[after] == '-';
      bool plus = after < src_.size() && src_[after] == '+';
      if (minus) {
        while (!text.empty() && is_ws(text.back())) text.pop_back();
      } else if (kind != '{' && !plus) {
        lstrip_block(text, text_start, tag);
      }
      push_text(text, text_start);
      if (minus || plus) ++after;
      if (kind == '#') {
        size_t end = src_.find("#}", after);
        if (end == std::string::npos) fail(tag, "unterminated comment");
        strip_next = end > after && src_[end - 1] == '-';
        bool keep_newline = end > after && src_[end - 1] == '+';
        pos = trim_block_newline(end + 2, strip_next || keep_newline);
        continue;
      }
      if (kind == '%' && try_raw(tag, after, pos, strip_next)) continue;
      pos = lex_tag(tag, after, kind == '%', strip_next);
    }
    tokens_.push_back({Tok::Eof, "", position(src_.size()).first, position(src_.size()).second});
    return std::move(tokens_);
  }

 private:
  // Line and 1-based column (in characters) of a byte offset. Tokens are
  // positioned in increasing order, so the column is counted on from the
  // previous position on the same line instead of from the line start: a
  // one-line template of a megabyte would otherwise cost a recount per token.
  std::pair<int, int> position(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    size_t i = line_starts_[line - 1];
    size_t col = 0;
    if (cached_line_ == line && cached_offset_ <= offset) {
      i = cached_offset_;
      col = cached_column_;
    }
    // Characters are counted within [line start, offset): a sequence cut by
    // the offset counts byte by byte, as utf8::length of that slice does.
    std::string_view upto = std::string_view(src_).substr(0, offset);
    bool whole = true;
    while (i < offset) {
      size_t n = utf8::seq_len(upto, i);
      if (n == 1 && static_cast<unsigned char>(src_[i]) >= 0x80 && utf8::seq_len(src_, i) != 1) whole = false;
      i += n;
      ++col;
    }
    if (whole) {
      cached_line_ = line;
      cached_offset_ = offset;
      cached_column_ = col;
    }
    return {static_cast<int>(line), static_cast<int>(col) + 1};
  }

  [[noreturn]] void fail(size_t offset, const std::string& message) const {
    auto [line, col] = position(offset);
    fail_at(origin_, line, col, message);
  }

  void push(Tok kind, std::string text, size_t offset) {
    auto [line, col] = position(offset);
    tokens_.push_back({kind, std::move(text), line, col});
  }

  void push_text(std::string& text, size_t offset) {
    if (!text.empty()) push(Tok::Text, std::move(text), offset);
  }

  size_t find_tag(size_t pos) const {
    while (true) {
      size_t p = src_.find('{', pos);
      if (p == std::string::npos || p + 1 >= src_.size()) return src_.size();
      char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') return p;
      pos = p + 1;
    }
  }

  // lstrip_blocks: blanks between the start of the line and a block or
  // comment tag are dropped.
  void lstrip_block(std::string& text, size_t text_start, size_t tag) const {
    size_t k = tag;
    while (k > text_start && is_blank(src_[k - 1])) --k;
    bool at_line_start = k == 0 || src_[k - 1] == '\n';
    if (at_line_start) text.resize(text.size() - (tag - k));
  }

  // trim_blocks: the first newline after a block or comment tag is dropped.
  size_t trim_block_newline(size_t pos, bool stripped) const {
    if (!stripped && pos < src_.size() && src_[pos] == '\n') return pos + 1;
    return pos;
  }

  // {% raw %}...{% endraw %}: the content is text, untouched.
  bool try_raw(size_t tag, size_t after, size_t& pos, bool& strip_next) {
    size_t p = after;
    while (p < src_.size() && is_ws(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0 || (p + 3 < src_.size() && is_name_char(src_[p + 3]))) return false;
    p += 3;
    while (p < src_.size() && is_ws(src_[p])) ++p;
    bool minus = p < src_.size() && src_[p] == '-';
    if (minus) ++p;
    if (src_.compare(p, 2, "%}") != 0) fail(p, "expected '%}' after 'raw'");
    size_t body = p + 2;  // Jinja keeps the newline after `{% raw %}`
    // Find the matching {% endraw %}.
    size_t search = body;
    while (true) {
      size_t open = src_.find("{%", search);
      if (open == std::string::npos) fail(tag, "missing '{% endraw %}' for this raw block");
      size_t q = open + 2;
      bool end_minus = q < src_.size() && src_[q] == '-';
      bool end_plus = q < src_.size() && src_[q] == '+';
      if (end_minus || end_plus) ++q;
      while (q < src_.size() && is_ws(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") == 0) {
        q += 6;
        while (q < src_.size() && is_ws(src_[q])) ++q;
        bool close_minus = q < src_.size() && src_[q] == '-';
        bool close_plus = q < src_.size() && src_[q] == '+';
        if (close_minus || close_plus) ++q;
        if (src_.compare(q, 2, "%}") != 0) fail(q, "expected '%}' after 'endraw'");
        std::string text = src_.substr(body, open - body);
        if (minus) {
          size_t k = 0;
          while (k < text.size() && is_ws(text[k])) ++k;
          text.erase(0, k);
        }
        if (end_minus) {
          while (!text.empty() && is_ws(text.back())) text.pop_back();
        } else if (!end_plus) {
          lstrip_block(text, body, open);
        }
        push_text(text, body);
        strip_next = close_minus;
        pos = trim_block_newline(q + 2, close_minus || close_plus);
        return true;
      }
      search = open + 2;
    }
  }

  // Tokens inside {{ }} or {% %}; returns the position after the tag.
  size_t lex_tag(size_t tag, size_t p, bool block, bool& strip_next) {
    push(block ? Tok::BlockBegin : Tok::VarBegin, "", tag);
    std::vector<char> brackets;
    const char* close = block ? "%}" : "}}";
    while (true) {
      while (p < src_.size() && is_ws(src_[p])) ++p;
      if (p >= src_.size()) fail(tag, std::string("unexpected end of template, expected '") + close + "'");
      if (brackets.empty()) {
        bool minus = src_[p] == '-' && src_.compare(p + 1, 2, close) == 0;
        bool plus = block && src_[p] == '+' && src_.compare(p + 1, 2, close) == 0;
        if (minus || plus || src_.compare(p, 2, close) == 0) {
          push(block ? Tok::BlockEnd : Tok::VarEnd, "", p);
          size_t end = p + 2 + (minus || plus ? 1 : 0);
          strip_next = minus;
          return block ? trim_block_newline(end, minus || plus) : end;
        }
      }
      char c = src_[p];
      if (is_name_start(c)) {
        size_t s = p;
        while (p < src_.size() && is_name_char(src_[p])) ++p;
        push(Tok::Name, src_.substr(s, p - s), s);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        p = lex_number(p);
      } else if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else {
        static const char* two[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (auto t : two)
          if (src_.compare(p, 2, t) == 0) op = t;
        if (op.empty()) {
          if (std::string("+-*/%~<>=.,:|()[]{}").find(c) == std::string::npos)
            fail(p, std::string("unexpected char '") + c + "'");
          op = std::string(1, c);
          if (c == '(' || c == '[' || c == '{') brackets.push_back(c);
          if (c == ')' || c == ']' || c == '}') {
            char want = c == ')' ? '(' : c == ']' ? '[' : '{';
            if (brackets.empty() || brackets.back() != want) fail(p, std::string("unexpected '") + c + "'");
            brackets.pop_back();
          }
        }
        push(Tok::Op, op, p);
        p += op.size();
      }
    }
  }

  size_t lex_number(size_t p) {
    size_t s = p;
    auto digits = [&] {
      while (p < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[p])) || src_[p] == '_')) ++p;
    };
    digits();
    bool is_float = false;
    bool after_dot = s > 0 && src_[s - 1] == '.';  // `foo.0.1` is two subscripts
    if (!after_dot && p + 1 < src_.size() && src_[p] == '.' && std::isdigit(static_cast<unsigned char>(src_[p + 1]))) {
      is_float = true;
      ++p;
      digits();
    }
    if (!after_dot && p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
      size_t q = p + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) {
        is_float = true;
        p = q;
        digits();
      }
    }
    std::string text;
    for (size_t i = s; i < p; ++i)
      if (src_[i] != '_') text += src_[i];
    push(is_float ? Tok::Float : Tok::Integer, text, s);
    return p;
  }

  size_t lex_string(size_t p) {
    char quote = src_[p];
    size_t s = p++;
    std::string value;
    while (true) {
      if (p >= src_.size()) fail(s, "unterminated string");
      char c = src_[p];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++p;
        continue;
      }
      if (p + 1 >= src_.size()) fail(s, "unterminated string");
      char e = src_[p + 1];
      p += 2;
      auto hex = [&](int n) {
        uint32_t cp = 0;
        for (int i = 0; i < n; ++i, ++p) {
          if (p >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[p])))
            fail(p, "truncated \\x, \\u or \\U escape");
          char h = src_[p];
          cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
        }
        if (cp > 0x10FFFF) fail(p, "escape outside the Unicode range");
        utf8::append(value, cp);
      };
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case 'a': value += '\a'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\n': break;  // line continuation
        case 'x': hex(2); break;
        case 'u': hex(4); break;
        case 'U': hex(8); break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++i, ++p)
              cp = cp * 8 + static_cast<uint32_t>(src_[p] - '0');
            utf8::append(value, cp);
          } else {
            value += '\\';
            value += e;
          }
      }
    }
    push(Tok::String, value, s);
    return p + 1;
  }

  std::string src_;
  const std::string& origin_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  mutable size_t cached_line_ = 0;  // position() resumes from here on the same line
  mutable size_t cached_offset_ = 0;
  mutable size_t cached_column_ = 0;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const std::string& origin) {
  return Lexer(source, origin).run();
}

}  // namespace allm::jinja
