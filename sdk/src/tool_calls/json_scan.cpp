// JSON helpers shared by the call parsers: finding where a value ends in text
// that may still be arriving, and reading call objects.
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
  ojson v;
  try {
    v = ojson::parse(object_text);
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
