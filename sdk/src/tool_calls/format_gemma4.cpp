// Gemma 4: one tag per call, arguments in the template's own notation —
// bare keys, strings between <|"|> marks (no escapes), JSON-like numbers,
// booleans, lists and mappings:
//   <|tool_call>call:get_weather{city:<|"|>Paris<|"|>,days:3}<tool_call|>
// JSON notation inside the braces ("key": "value") is read too: constrained
// replies write their schema-valid arguments that way.
#include <cctype>

#include "syntax.hpp"

namespace allm::tools {

namespace {

constexpr std::string_view kGemma4Open = "<|tool_call>", kGemma4Call = "call:", kGemma4Close = "<tool_call|>", kGemma4Quote = "<|\"|>";
constexpr int kMaxDepth = 64;

// A recursive reader over the region; `more` set when the text ended first.
struct Reader {
  std::string_view s;
  size_t pos = 0;
  bool more = false;  // ran out of text
  bool bad = false;

  bool fail() {
    bad = true;
    return false;
  }
  bool need() {
    more = true;
    return false;
  }
  void blanks() { pos = skip_blanks(s, pos); }

  bool string_value(ojson& out) {
    if (starts_with(s.substr(pos), kGemma4Quote)) {
      const size_t end = s.find(kGemma4Quote, pos + kGemma4Quote.size());
      if (end == std::string_view::npos) return need();
      out = std::string(s.substr(pos + kGemma4Quote.size(), end - pos - kGemma4Quote.size()));
      pos = end + kGemma4Quote.size();
      return true;
    }
    if (is_prefix_of(s.substr(pos), kGemma4Quote)) return need();
    // A JSON string.
    bool malformed = false;
    const size_t end = json_value_end(s, pos, false, malformed);
    if (malformed) return fail();
    if (end == std::string_view::npos) return need();
    try {
      out = ojson::parse(s.substr(pos, end - pos));
    } catch (const nlohmann::json::exception&) {
      return fail();
    }
    pos = end;
    return true;
  }

  bool key(std::string& out) {
    blanks();
    if (pos >= s.size()) return need();
    if (s[pos] == '"' || s[pos] == '<') {
      ojson k;
      if (!string_value(k)) return false;
      if (!k.is_string()) return fail();
      out = k.get<std::string>();
      return true;
    }
    const size_t start = pos;
    while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '_' || s[pos] == '-' ||
                              s[pos] == '.'))
      ++pos;
    if (pos >= s.size()) return need();
    if (pos == start || pos - start > kMaxName) return fail();
    out = std::string(s.substr(start, pos - start));
    return true;
  }

  bool value(ojson& out, int depth) {
    if (depth > kMaxDepth) return fail();
    blanks();
    if (pos >= s.size()) return need();
    const char c = s[pos];
    if (c == '{') {
      ++pos;
      out = ojson::object();
      blanks();
      if (pos >= s.size()) return need();
      if (s[pos] == '}') {
        ++pos;
        return true;
      }
      for (;;) {
        std::string k;
        if (!key(k)) return false;
        blanks();
        if (pos >= s.size()) return need();
        if (s[pos] != ':') return fail();
        ++pos;
        ojson v;
        if (!value(v, depth + 1)) return false;
        if (!out.contains(k)) out[k] = std::move(v);  // a repeated key keeps its first value, as JSON calls do
        blanks();
        if (pos >= s.size()) return need();
        if (s[pos] == '}') {
          ++pos;
          return true;
        }
        if (s[pos] != ',') return fail();
        ++pos;
      }
    }
    if (c == '[') {
      ++pos;
      out = ojson::array();
      blanks();
      if (pos >= s.size()) return need();
      if (s[pos] == ']') {
        ++pos;
        return true;
      }
      for (;;) {
        ojson v;
        if (!value(v, depth + 1)) return false;
        out.push_back(std::move(v));
        blanks();
        if (pos >= s.size()) return need();
        if (s[pos] == ']') {
          ++pos;
          return true;
        }
        if (s[pos] != ',') return fail();
        ++pos;
      }
    }
    if (c == '"' || c == '<') return string_value(out);
    // A bare scalar: number, true/false, null/None.
    const size_t start = pos;
    while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '-' || s[pos] == '+' ||
                              s[pos] == '.'))
      ++pos;
    if (pos >= s.size()) return need();
    const std::string_view word = s.substr(start, pos - start);
    if (word == "true" || word == "True") out = true;
    else if (word == "false" || word == "False") out = false;
    else if (word == "null" || word == "None") out = nullptr;
    else {
      try {
        out = ojson::parse(word);
      } catch (const nlohmann::json::exception&) {
        return fail();
      }
      if (!out.is_number()) return fail();
    }
    return true;
  }
};

// The arguments read so far (the members read whole) as the start of their
// compact JSON text; empty when a string in them is not valid UTF-8.
std::string partial_arguments(const ojson& args) {
  std::string text;
  if (!args.is_object() || !dump_json(args, text)) return {};
  text.pop_back();  // the closing brace: more members may come
  return text;
}

}  // namespace

RegionResult parse_gemma4(std::string_view region, bool at_end, const ToolSet&, Preview* preview) {
  if (!starts_with(region, kGemma4Open)) return invalid_region();
  size_t pos = kGemma4Open.size();
  std::string_view rest = region.substr(pos);
  if (!starts_with(rest, kGemma4Call))
    return is_prefix_of(rest, kGemma4Call) || rest.empty() ? need_more(at_end) : invalid_region();
  pos += kGemma4Call.size();
  const size_t brace = region.find('{', pos);
  if (brace == std::string_view::npos) return region.size() - pos > kMaxName ? invalid_region() : need_more(at_end);
  ParsedCall call;
  call.name = std::string(region.substr(pos, brace - pos));
  if (call.name.empty() || call.name.size() > kMaxName || call.name.find_first_of(" \n<") != std::string::npos)
    return invalid_region();
  Reader reader{region, brace};
  ojson args;
  if (!reader.value(args, 0)) {
    if (reader.bad) return invalid_region();
    if (preview) preview->push_back({call.name, partial_arguments(args), false});
    return need_more(at_end);
  }
  if (!args.is_object() || !dump_json(args, call.arguments)) return invalid_region();
  preview_whole(preview, {call});
  return close_tag(region, reader.pos, at_end, {std::move(call)}, kGemma4Close);
}

}  // namespace allm::tools
