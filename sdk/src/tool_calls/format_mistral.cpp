// Mistral: [TOOL_CALLS] followed by either a JSON list (Mistral 7B v0.3, Nemo)
//   [TOOL_CALLS][{"name": "f", "arguments": {…}, "id": "…"}, …]
// or, from the v11 tokenizer on (Small 3.2, Devstral, Ministral 3), one marker per call
//   [TOOL_CALLS]f[ARGS]{…}      ([CALL_ID]id may come between name and [ARGS])
#include "syntax.hpp"

namespace allm::tools {

namespace {
constexpr std::string_view kMarker = "[TOOL_CALLS]", kArgs = "[ARGS]", kCallId = "[CALL_ID]";
constexpr size_t kMaxName = 256;
}  // namespace

RegionResult parse_mistral(std::string_view region, bool at_end, const ToolSet&) {
  RegionResult r;
  if (!starts_with(region, kMarker)) return invalid_region();
  size_t pos = skip_blanks(region, kMarker.size());
  if (pos >= region.size()) return need_more(at_end);
  bool malformed = false;
  if (region[pos] == '[') {
    const size_t end = json_value_end(region, pos, at_end, malformed);
    if (malformed) return invalid_region();
    if (end == std::string::npos) return need_more(at_end);
    ojson list;
    try {
      list = ojson::parse(region.substr(pos, end - pos));
    } catch (const nlohmann::json::exception&) {
      return invalid_region();
    }
    if (list.empty()) return invalid_region();
    for (const auto& item : list) {
      ParsedCall call;
      std::string text;
      if (!dump_json(item, text) || !call_from_object(text, {"arguments", "parameters"}, call)) return invalid_region();
      r.calls.push_back(std::move(call));
    }
    r.status = RegionResult::done;
    r.consumed = end;
    return r;
  }
  // name[ARGS]{…}
  const size_t args = region.find(kArgs, pos);
  if (args == std::string::npos)
    return region.size() - pos > kMaxName + kCallId.size() + kMaxName ? invalid_region() : need_more(at_end);
  std::string_view head = region.substr(pos, args - pos);
  if (const size_t id = head.find(kCallId); id != std::string::npos) head = head.substr(0, id);
  ParsedCall call;
  call.name = std::string(head);
  if (call.name.empty() || call.name.size() > kMaxName || call.name.find_first_of(" \n[{") != std::string::npos)
    return invalid_region();
  const size_t vpos = args + kArgs.size();
  const size_t end = json_value_end(region, vpos, at_end, malformed);
  if (malformed) return invalid_region();
  if (end == std::string::npos) return need_more(at_end);
  if (!arguments_text(region.substr(vpos, end - vpos), call.arguments)) return invalid_region();
  r.calls.push_back(std::move(call));
  r.status = RegionResult::done;
  r.consumed = end;
  return r;
}

}  // namespace allm::tools
