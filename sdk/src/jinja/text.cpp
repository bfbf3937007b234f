#include "jinja/text.hpp"

#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <cctype>
#include <utility>
#include <stdexcept>

#include "jinja/utf8.hpp"

namespace allm::jinja::text {
namespace {

// glibc's C.UTF-8 locale carries the full Unicode case tables; it is created
// once and never installed globally, so nothing else in the process changes.
locale_t utf8_locale() {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return loc;
}

}  // namespace

uint32_t to_upper(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  locale_t loc = utf8_locale();
  return loc ? static_cast<uint32_t>(towupper_l(static_cast<wint_t>(cp), loc)) : cp;
}
uint32_t to_lower(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  locale_t loc = utf8_locale();
  return loc ? static_cast<uint32_t>(towlower_l(static_cast<wint_t>(cp), loc)) : cp;
}
bool is_alpha(uint32_t cp) {
  if (cp < 0x80) return (cp | 32) >= 'a' && (cp | 32) <= 'z';
  locale_t loc = utf8_locale();
  return loc && iswalpha_l(static_cast<wint_t>(cp), loc);
}
bool is_digit(uint32_t cp) { return cp >= '0' && cp <= '9'; }
bool is_alnum(uint32_t cp) { return is_alpha(cp) || is_digit(cp); }
namespace {

// Unicode's unconditional special casings (SpecialCasing.txt) that Python's
// str.upper/lower/title apply: one code point becoming several ("ß" -> "SS").
struct SpecialCase {
  uint32_t cp;
  const char* lower;  // nullptr: the simple mapping
  const char* title;
  const char* upper;
};
constexpr SpecialCase kSpecialCases[] = {
    {0x00DF, nullptr, "Ss", "SS"},
    {0x0130, "i\xCC\x87", nullptr, nullptr},
    {0x0149, nullptr, "\xCA\xBCN", "\xCA\xBCN"},
    {0x01F0, nullptr, "J\xCC\x8C", "J\xCC\x8C"},
    {0x0587, nullptr, "\xD4\xB5\xD6\x82", "\xD4\xB5\xD5\x92"},
    {0xFB00, nullptr, "Ff", "FF"},
    {0xFB01, nullptr, "Fi", "FI"},
    {0xFB02, nullptr, "Fl", "FL"},
    {0xFB03, nullptr, "Ffi", "FFI"},
    {0xFB04, nullptr, "Ffl", "FFL"},
    {0xFB05, nullptr, "St", "ST"},
    {0xFB06, nullptr, "St", "ST"},
};

enum class Case { Lower, Title, Upper };

void append_cased(std::string& out, uint32_t cp, Case c) {
  if (cp >= 0x80)
    for (auto& sc : kSpecialCases)
      if (sc.cp == cp) {
        const char* mapped = c == Case::Lower ? sc.lower : c == Case::Title ? sc.title : sc.upper;
        if (mapped) {
          out += mapped;
          return;
        }
        break;
      }
  utf8::append(out, c == Case::Lower ? to_lower(cp) : to_upper(cp));
}

bool has_special_upper(uint32_t cp) {
  for (auto& sc : kSpecialCases)
    if (sc.cp == cp) return sc.upper != nullptr;
  return false;
}

std::string map_case(const std::string& s, Case c) {
  std::string out;
  for (uint32_t cp : utf8::code_points(s)) append_cased(out, cp, c);
  return out;
}

}  // namespace

bool is_upper(uint32_t cp) { return to_lower(cp) != cp; }
bool is_lower(uint32_t cp) { return to_upper(cp) != cp || (cp >= 0x80 && has_special_upper(cp)); }

std::string upper(const std::string& s) { return map_case(s, Case::Upper); }
std::string lower(const std::string& s) { return map_case(s, Case::Lower); }

// str.capitalize: the first character in title case, the rest lower case.
std::string capitalize(const std::string& s) {
  std::string out;
  bool first = true;
  for (uint32_t cp : utf8::code_points(s)) {
    append_cased(out, cp, first ? Case::Title : Case::Lower);
    first = false;
  }
  return out;
}

std::string python_title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (uint32_t cp : utf8::code_points(s)) {
    bool cased = is_upper(cp) || is_lower(cp);
    if (cased) append_cased(out, cp, prev_cased ? Case::Lower : Case::Title);
    else utf8::append(out, cp);
    prev_cased = cased;
  }
  return out;
}

std::string jinja_title(const std::string& s) {
  // Words start after runs of '-', whitespace, '(', '{', '[' or '<'.
  std::string out;
  bool at_start = true;
  for (uint32_t cp : utf8::code_points(s)) {
    bool sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || utf8::is_space(cp);
    if (sep) {
      utf8::append(out, cp);
      at_start = true;
    } else {
      // Jinja's title filter: item[0].upper() + item[1:].lower().
      append_cased(out, cp, at_start ? Case::Upper : Case::Lower);
      at_start = false;
    }
  }
  return out;
}

std::string strip(const std::string& s, const std::string* chars, bool left, bool right) {
  std::vector<uint32_t> cps = utf8::code_points(s);
  std::vector<uint32_t> set;
  if (chars) set = utf8::code_points(*chars);
  auto strip_it = [&](uint32_t cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end() : utf8::is_space(cp);
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  std::string out;
  for (size_t i = b; i < e; ++i) utf8::append(out, cps[i]);
  return out;
}

std::vector<std::string> split(const std::string& s, const std::string* sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (sep) {
    if (sep->empty()) throw std::runtime_error("empty separator");
    if (!from_right) {
      size_t pos = 0;
      while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
        size_t f = s.find(*sep, pos);
        if (f == std::string::npos) break;
        parts.push_back(s.substr(pos, f - pos));
        pos = f + sep->size();
      }
      parts.push_back(s.substr(pos));
    } else {
      size_t end = s.size();
      std::vector<std::string> rev;
      while (maxsplit < 0 || static_cast<int64_t>(rev.size()) < maxsplit) {
        if (end < sep->size()) break;
        size_t f = s.rfind(*sep, end - sep->size());
        if (f == std::string::npos) break;
        rev.push_back(s.substr(f + sep->size(), end - f - sep->size()));
        end = f;
      }
      rev.push_back(s.substr(0, end));
      parts.assign(rev.rbegin(), rev.rend());
    }
    return parts;
  }
  // Whitespace splitting: runs of whitespace separate, ends are dropped.
  auto chars = utf8::chars(s);
  std::vector<std::pair<size_t, size_t>> words;  // char index ranges
  size_t i = 0, n = chars.size();
  auto space = [&](size_t k) { return utf8::is_space(utf8::code_points(chars[k])[0]); };
  while (i < n) {
    while (i < n && space(i)) ++i;
    if (i >= n) break;
    size_t b = i;
    while (i < n && !space(i)) ++i;
    words.emplace_back(b, i);
  }
  auto join_range = [&](size_t b, size_t e) {
    std::string out;
    for (size_t k = b; k < e; ++k) out += chars[k];
    return out;
  };
  if (maxsplit < 0 || static_cast<int64_t>(words.size()) <= maxsplit + 1) {
    for (auto& [b, e] : words) parts.push_back(join_range(b, e));
    return parts;
  }
  size_t m = static_cast<size_t>(maxsplit);
  if (!from_right) {
    for (size_t k = 0; k < m; ++k) parts.push_back(join_range(words[k].first, words[k].second));
    size_t rest_end = n;
    while (rest_end > words[m].first && space(rest_end - 1)) --rest_end;
    parts.push_back(join_range(words[m].first, rest_end));
  } else {
    size_t first_kept = words.size() - m;
    size_t rest_begin = 0;
    while (rest_begin < n && space(rest_begin)) ++rest_begin;
    parts.push_back(join_range(rest_begin, words[first_kept - 1].second));
    for (size_t k = first_kept; k < words.size(); ++k) parts.push_back(join_range(words[k].first, words[k].second));
  }
  return parts;
}

std::vector<std::string> splitlines(const std::string& s, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      size_t end = i;
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      lines.push_back(s.substr(start, (keepends ? i + 1 : end) - start));
      start = i + 1;
    }
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

std::string html_unescape(const std::string& s) {
  static const std::pair<const char*, uint32_t> named[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out += s[i++];
      continue;
    }
    size_t j = i + 1;
    if (j < s.size() && s[j] == '#') {
      bool hex = j + 1 < s.size() && (s[j + 1] == 'x' || s[j + 1] == 'X');
      size_t k = j + (hex ? 2 : 1), digits = k;
      uint64_t cp = 0;
      while (k < s.size() && (hex ? std::isxdigit(static_cast<unsigned char>(s[k])) : std::isdigit(static_cast<unsigned char>(s[k])))) {
        if (cp <= 0x10FFFF) cp = cp * (hex ? 16 : 10) + static_cast<uint64_t>(std::isdigit(static_cast<unsigned char>(s[k])) ? s[k] - '0' : (s[k] | 0x20) - 'a' + 10);
        ++k;
      }
      if (k > digits) {
        if (k < s.size() && s[k] == ';') ++k;
        // Python maps invalid and surrogate code points to U+FFFD.
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
        utf8::append(out, static_cast<uint32_t>(cp));
        i = k;
        continue;
      }
    } else {
      bool done = false;
      for (auto& [name, cp] : named) {
        size_t n = std::char_traits<char>::length(name);
        if (s.compare(j, n, name) != 0) continue;
        bool semicolon = j + n < s.size() && s[j + n] == ';';
        if (!semicolon && (cp == '\'' || cp == 0xA0)) continue;  // only "&apos;" and "&nbsp;"
        utf8::append(out, cp);
        i = j + n + (semicolon ? 1 : 0);
        done = true;
        break;
      }
      if (done) continue;
    }
    out += s[i++];
  }
  return out;
}

}  // namespace allm::jinja::text
