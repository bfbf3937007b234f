// JsonEcho: the compact text of a JSON value, written as far as text still
// arriving makes it certain. It gives streamed arguments (each fragment is
// final: the fragments of a call add up to the arguments of the whole parse)
// and the canonical text of whole call objects, so both come from one reader.
// Strings and numbers are checked and written by nlohmann's own parser and
// dump(), token by token; dump() is compositional, so the pieces add up to
// the dump of the whole value.
#include <cctype>
#include <set>

#include "syntax.hpp"

namespace allm::tools {

namespace {

constexpr int kMaxDepth = 256;  // as json_value_end

bool parse_token(std::string_view text, ojson& out) {
  try {
    out = ojson::parse(text);
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

int hex_value(std::string_view hex) {
  int v = 0;
  for (char c : hex) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

size_t incomplete_utf8_tail(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return len > back ? back : 0;
  }
  return 0;
}

JsonEcho::Result JsonEcho::read() {
  pos_ = skip_blanks(s_, pos_);
  safe_ = pos_;
  if (value(0, true)) return done;
  return bad_ ? bad : more;
}

bool JsonEcho::string(bool emit, std::string* decoded) {
  const size_t start = pos_;  // at '"'
  size_t i = start + 1, cut = std::string_view::npos;
  for (;;) {
    if (i >= s_.size()) {
      cut = i;
      break;
    }
    const auto c = static_cast<unsigned char>(s_[i]);
    if (c == '"') break;
    if (c < 0x20) return fail();
    if (c != '\\') {
      ++i;
      continue;
    }
    // An escape is written whole or not at all; a high surrogate waits for
    // the low one after it.
    if (i + 1 >= s_.size()) {
      cut = i;
      break;
    }
    if (s_[i + 1] != 'u') {
      i += 2;
      continue;
    }
    if (i + 6 > s_.size()) {
      cut = i;
      break;
    }
    const int code = hex_value(s_.substr(i + 2, 4));
    if (code < 0) return fail();
    if (code < 0xD800 || code > 0xDBFF) {
      i += 6;
      continue;
    }
    if ((i + 6 < s_.size() && s_[i + 6] != '\\') || (i + 7 < s_.size() && s_[i + 7] != 'u')) return fail();
    if (i + 12 > s_.size()) {
      cut = i;
      break;
    }
    i += 12;  // the low half is checked by the parser below
  }
  ojson v;
  if (cut == std::string_view::npos) {
    if (!parse_token(s_.substr(start, i + 1 - start), v)) return fail();
    if (emit) out_ += v.dump();
    if (decoded) *decoded = v.get<std::string>();
    pos_ = safe_ = i + 1;
    return true;
  }
  // The text ran out inside the string: its whole characters so far.
  cut -= incomplete_utf8_tail(s_.substr(start + 1, cut - start - 1));
  if (!parse_token(std::string(s_.substr(start, cut - start)) + "\"", v)) return fail();
  if (emit) {
    std::string d = v.dump();
    d.pop_back();  // the closing quote is not written yet
    out_ += d;
  }
  if (decoded) *decoded = v.get<std::string>();
  safe_ = cut;
  return need();
}

bool JsonEcho::scalar(bool emit) {
  const size_t start = pos_;
  size_t i = start;
  while (i < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i])) || s_[i] == '-' || s_[i] == '+' || s_[i] == '.'))
    ++i;
  if (i == start) return fail();
  if (i >= s_.size() && !whole_) return need();  // a number may go on
  ojson v;
  if (!parse_token(s_.substr(start, i - start), v)) return fail();
  if (emit) out_ += v.dump();
  pos_ = safe_ = i;
  return true;
}

bool JsonEcho::value(int depth, bool emit) {
  if (depth > kMaxDepth) return fail();
  pos_ = skip_blanks(s_, pos_);
  if (pos_ >= s_.size()) return need();
  const char c = s_[pos_];
  if (c == '"') return string(emit, depth == 0 ? &decoded_ : nullptr);
  if (c != '{' && c != '[') return scalar(emit);
  const bool object = c == '{';
  const char close = object ? '}' : ']';
  if (emit) out_ += c;
  pos_ = safe_ = pos_ + 1;
  pos_ = skip_blanks(s_, pos_);
  if (pos_ >= s_.size()) return need();
  if (s_[pos_] == close) {
    if (emit) out_ += close;
    pos_ = safe_ = pos_ + 1;
    return true;
  }
  std::set<std::string> names;
  bool written = false;  // a member of this object was written
  for (;;) {
    bool keep = true;
    if (object) {
      pos_ = skip_blanks(s_, pos_);
      if (pos_ >= s_.size()) return need();
      if (s_[pos_] != '"') return fail();
      std::string key;
      if (!string(false, &key)) return false;
      pos_ = skip_blanks(s_, pos_);
      if (pos_ >= s_.size()) return need();
      if (s_[pos_] != ':') return fail();
      pos_ = safe_ = pos_ + 1;
      keep = names.insert(key).second;
      if (emit && keep) {
        if (written) out_ += ',';
        out_ += ojson(key).dump();
        out_ += ':';
        written = true;
      }
    }
    if (!value(depth + 1, emit && keep)) return false;
    pos_ = skip_blanks(s_, pos_);
    if (pos_ >= s_.size()) return need();
    if (s_[pos_] == close) {
      if (emit) out_ += close;
      pos_ = safe_ = pos_ + 1;
      return true;
    }
    if (s_[pos_] != ',') return fail();
    if (emit && !object) out_ += ',';  // an object's comma goes with its next written member
    pos_ = safe_ = pos_ + 1;
  }
}

bool echo_json(std::string_view text, std::string& out) {
  JsonEcho e(text, 0, true);
  if (e.read() != JsonEcho::done || skip_blanks(text, e.end()) != text.size()) return false;
  out = e.out();
  return true;
}

}  // namespace allm::tools
