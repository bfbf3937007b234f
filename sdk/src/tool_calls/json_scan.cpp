// JSON helpers shared by the call parsers: finding where a value ends in text
// that may still be arriving, and reading call objects.
#include <algorithm>
#include <cctype>

#include "syntax.hpp"

namespace allm::tools {

bool dump_json(const ojson& v, std::string& out) {
  try {
    out = v.dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_prefix_of(std::string_view s, std::string_view marker) {
  return s.size() < marker.size() && marker.substr(0, s.size()) == s;
}

size_t skip_blanks(std::string_view s, size_t pos) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\t' || s[pos] == '\r')) ++pos;
  return pos;
}

size_t json_value_end(std::string_view s, size_t pos, bool at_end, bool& malformed) {
  malformed = false;
  pos = skip_blanks(s, pos);
  if (pos >= s.size()) return std::string::npos;
  const char c0 = s[pos];
  if (c0 == '{' || c0 == '[' || c0 == '"') {
    // Brackets and strings: count depth outside strings; the value ends when
    // the depth returns to zero. Structure inside is checked by the JSON
    // parser afterwards; here only the extent matters.
    std::vector<char> stack;
    bool in_string = false, escape = false;
    for (size_t i = pos; i < s.size(); ++i) {
      const char c = s[i];
      if (in_string) {
        if (escape) escape = false;
        else if (c == '\\') escape = true;
        else if (c == '"') {
          in_string = false;
          if (stack.empty()) return i + 1;
        } else if (static_cast<unsigned char>(c) < 0x20) {
          malformed = true;
          return std::string::npos;
        }
        continue;
      }
      if (c == '"') in_string = true;
      else if (c == '{' || c == '[') {
        if (stack.size() >= 256) {
          malformed = true;
          return std::string::npos;
        }
        stack.push_back(c == '{' ? '}' : ']');
      } else if (c == '}' || c == ']') {
        if (stack.empty() || stack.back() != c) {
          malformed = true;
          return std::string::npos;
        }
        stack.pop_back();
        if (stack.empty()) return i + 1;
      }
    }
    return std::string::npos;
  }
  // A scalar: runs to the first byte that cannot continue it.
  size_t i = pos;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-' || s[i] == '+' || s[i] == '.'))
    ++i;
  if (i == pos) {
    malformed = true;
    return std::string::npos;
  }
  if (i == s.size() && !at_end) return std::string::npos;
  return i;
}

bool arguments_text(std::string_view value_text, std::string& out) {
  ojson v;
  try {
    v = ojson::parse(value_text);
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  if (v.is_object()) {
    // As the model wrote it (trimmed): streamed and whole replies carry the
    // same bytes, and a client sees exactly what was generated.
    size_t b = skip_blanks(value_text, 0), e = value_text.size();
    while (e > b && (value_text[e - 1] == ' ' || value_text[e - 1] == '\n' || value_text[e - 1] == '\t' ||
                     value_text[e - 1] == '\r'))
      --e;
    out = std::string(value_text.substr(b, e - b));
    return true;
  }
  if (v.is_string()) {
    const std::string inner = v.get<std::string>();
    ojson o;
    try {
      o = ojson::parse(inner);
    } catch (const nlohmann::json::exception&) {
      return false;
    }
    if (!o.is_object()) return false;
    out = inner;
    return true;
  }
  return false;
}

bool call_from_object(std::string_view object_text, const std::vector<std::string>& keys, ParsedCall& out) {
  // Read through JsonEcho, as the streamed arguments are: a repeated name
  // keeps its first value in both.
  std::string canonical;
  if (!echo_json(object_text, canonical)) return false;
  ojson v;
  try {
    v = ojson::parse(canonical);
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  if (!v.is_object()) return false;
  // {"type": "function", "function": {...}} (OpenAI's own shape) is read too.
  if (v.contains("function") && v["function"].is_object() && !v.contains("name")) v = v["function"];
  if (!v.contains("name") || !v["name"].is_string()) return false;
  for (const auto& k : keys) {
    auto it = v.find(k);
    if (it == v.end()) continue;
    std::string text;
    if (!dump_json(*it, text) || !arguments_text(text, out.arguments)) return false;
    out.name = v["name"].get<std::string>();
    return true;
  }
  return false;
}

namespace {

// Arguments sent as a string holding the object: of its text so far (decoded),
// what is the valid start of a JSON object — the rest waits, so a call that
// goes wrong never sent more than that.
std::string object_text_start(std::string_view text) {
  const size_t pos = skip_blanks(text, 0);
  if (pos >= text.size() || text[pos] != '{') return {};
  JsonEcho e(text, pos);
  const size_t end = e.read() == JsonEcho::done ? e.end() : e.safe();
  return std::string(text.substr(0, end));
}

}  // namespace

CallPreview preview_call_object(std::string_view s, size_t pos, const std::vector<std::string>& keys) {
  CallPreview p;
  pos = skip_blanks(s, pos);
  if (pos >= s.size() || s[pos] != '{') return p;
  std::vector<std::string> seen;
  for (++pos;;) {
    pos = skip_blanks(s, pos);
    if (pos >= s.size() || s[pos] != '"') return p;
    JsonEcho key(s, pos);
    if (key.read() != JsonEcho::done) return p;
    pos = skip_blanks(s, key.end());
    if (pos >= s.size() || s[pos] != ':') return p;
    const std::string& name = key.decoded();
    const bool first = std::find(seen.begin(), seen.end(), name) == seen.end();
    seen.push_back(name);
    const size_t vpos = skip_blanks(s, pos + 1);
    JsonEcho value(s, vpos);
    const JsonEcho::Result r = value.read();
    if (first && name == "name" && r == JsonEcho::done && vpos < s.size() && s[vpos] == '"') p.name = value.decoded();
    if (first && name == keys.front() && vpos < s.size()) {
      // An object is kept as its compact text, a string holding one as the string.
      if (s[vpos] == '{') p.arguments = value.out();
      else if (s[vpos] == '"') p.arguments = object_text_start(value.decoded());
    }
    if (r != JsonEcho::done) return p;
    pos = skip_blanks(s, value.end());
    if (pos >= s.size() || s[pos] != ',') return p;
    ++pos;
  }
}

CallPreview preview_raw_arguments(std::string_view s, size_t pos, std::string name) {
  CallPreview p;
  p.name = std::move(name);
  pos = skip_blanks(s, pos);
  if (pos >= s.size()) return p;
  JsonEcho value(s, pos);
  value.read();
  // An object is kept as written (arguments_text), a string holding one as the string.
  if (s[pos] == '{') p.arguments = std::string(s.substr(pos, value.safe() - pos));
  else if (s[pos] == '"') p.arguments = object_text_start(value.decoded());
  return p;
}

void preview_whole(Preview* preview, const std::vector<ParsedCall>& calls) {
  if (!preview) return;
  for (const auto& c : calls) preview->push_back({c.name, c.arguments, true});
}

const nlohmann::json* ToolSet::parameters(std::string_view name) const {
  if (!tools || !tools->is_array()) return nullptr;
  for (const auto& t : *tools) {
    const nlohmann::json* f = &t;
    if (t.contains("function") && t["function"].is_object()) f = &t["function"];
    if (f->contains("name") && (*f)["name"].is_string() && (*f)["name"].get<std::string>() == name) {
      static const nlohmann::json kEmpty = nlohmann::json::object();
      auto it = f->find("parameters");
      return it != f->end() && it->is_object() ? &*it : &kEmpty;
    }
  }
  return nullptr;
}

}  // namespace allm::tools
