// Hermes / Qwen2.5 / Qwen3: <tool_call>\n{"name": "f", "arguments": {…}}\n</tool_call>
// (one tag per call; parallel calls are consecutive tags). Qwen3-Coder's XML
// body inside the same tag is read too: those models write either.
#include "syntax.hpp"

namespace allm::tools {

namespace {
constexpr std::string_view kHermesOpen = "<tool_call>", kHermesClose = "</tool_call>";
}

// The end of a call tag once its body was read at `pos`: past the close tag,
// or at `pos` when the text goes on without one (the model forgot it).
RegionResult close_tag(std::string_view region, size_t pos, bool at_end, std::vector<ParsedCall> calls,
                       std::string_view close) {
  RegionResult r;
  const size_t q = skip_blanks(region, pos);
  std::string_view rest = region.substr(q);
  if (starts_with(rest, close)) {
    r.status = RegionResult::done;
    r.consumed = q + close.size();
  } else if ((rest.empty() || is_prefix_of(rest, close)) && !at_end) {
    return r;  // incomplete
  } else {
    r.status = RegionResult::done;
    r.consumed = rest.empty() ? region.size() : pos;
  }
  r.calls = std::move(calls);
  return r;
}

RegionResult parse_hermes(std::string_view region, bool at_end, const ToolSet& tools, Preview* preview) {
  if (!starts_with(region, kHermesOpen)) return invalid_region();
  const size_t body = skip_blanks(region, kHermesOpen.size());
  if (body >= region.size()) return need_more(at_end);
  if (region[body] == '<') return parse_qwen3_coder(region, at_end, tools, preview);
  const std::vector<std::string> keys = {"arguments", "parameters"};
  bool malformed = false;
  const size_t end = json_value_end(region, body, at_end, malformed);
  if (malformed) return invalid_region();
  if (end == std::string::npos) {
    if (preview) preview->push_back(preview_call_object(region, body, keys));
    return need_more(at_end);
  }
  ParsedCall call;
  if (!call_from_object(region.substr(body, end - body), keys, call)) return invalid_region();
  preview_whole(preview, {call});
  return close_tag(region, end, at_end, {std::move(call)}, kHermesClose);
}

}  // namespace allm::tools
