// Llama 3.1 / 3.2 / 3.3: the whole reply is a call object
//   {"name": "f", "parameters": {…}}
// (or several, separated by blanks or ';'), optionally after <|python_tag|>.
// A reply that merely starts with '{' but is not a call stays content.
#include "syntax.hpp"

namespace allm::tools {

namespace {
constexpr std::string_view kPythonTag = "<|python_tag|>";
}

RegionResult parse_llama3(std::string_view region, bool at_end, const ToolSet&, Preview* preview) {
  RegionResult r;
  const std::vector<std::string> keys = {"parameters", "arguments"};
  size_t pos = starts_with(region, kPythonTag) ? kPythonTag.size() : 0;
  for (;;) {
    pos = skip_blanks(region, pos);
    if (pos >= region.size()) break;
    if (!r.calls.empty() && region[pos] != '{') break;
    bool malformed = false;
    const size_t end = json_value_end(region, pos, at_end, malformed);
    if (malformed) return invalid_region();
    if (end == std::string::npos) {
      if (preview) {
        preview_whole(preview, r.calls);
        preview->push_back(preview_call_object(region, pos, keys));
      }
      return need_more(at_end);
    }
    ParsedCall call;
    if (!call_from_object(region.substr(pos, end - pos), keys, call)) return invalid_region();
    r.calls.push_back(std::move(call));
    pos = skip_blanks(region, end);
    if (pos < region.size() && region[pos] == ';') ++pos;
  }
  if (r.calls.empty()) return need_more(at_end);
  // More calls may follow until the reply ends, unless other text came.
  if (pos >= region.size() && !at_end) {
    preview_whole(preview, r.calls);
    return {};
  }
  r.status = RegionResult::done;
  r.consumed = pos;
  return r;
}

}  // namespace allm::tools
