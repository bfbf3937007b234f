// Mistral: [TOOL_CALLS] followed by either a JSON list (Mistral 7B v0.3, Nemo)
//   [TOOL_CALLS][{"name": "f", "arguments": {…}, "id": "…"}, …]
// or, from the v11 tokenizer on (Small 3.2, Devstral, Ministral 3), one marker per call
//   [TOOL_CALLS]f[ARGS]{…}      ([CALL_ID]id may come between name and [ARGS])
#include "syntax.hpp"

namespace allm::tools {

namespace {
constexpr std::string_view kMarker = "[TOOL_CALLS]", kArgs = "[ARGS]", kCallId = "[CALL_ID]";

// The calls of an unfinished list: the whole items, then the item being written.
void preview_list(std::string_view region, size_t pos, const std::vector<std::string>& keys, Preview& preview) {
  for (++pos;;) {  // past '['
    pos = skip_blanks(region, pos);
    if (pos >= region.size() || region[pos] != '{') return;
    bool malformed = false;
    const size_t end = json_value_end(region, pos, false, malformed);
    if (malformed) return;
    if (end == std::string::npos) {
      preview.push_back(preview_call_object(region, pos, keys));
      return;
    }
    ParsedCall call;
    if (!call_from_object(region.substr(pos, end - pos), keys, call)) return;
    preview.push_back({call.name, call.arguments, true});
    pos = skip_blanks(region, end);
    if (pos >= region.size() || region[pos] != ',') return;
    ++pos;
  }
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxName && name.find_first_of(" \n[{") == std::string_view::npos;
}

}  // namespace

RegionResult parse_mistral(std::string_view region, bool at_end, const ToolSet&, Preview* preview) {
  RegionResult r;
  if (!starts_with(region, kMarker)) return invalid_region();
  size_t pos = skip_blanks(region, kMarker.size());
  if (pos >= region.size()) return need_more(at_end);
  const std::vector<std::string> keys = {"arguments", "parameters"};
  bool malformed = false;
  if (region[pos] == '[') {
    const size_t end = json_value_end(region, pos, at_end, malformed);
    if (malformed) return invalid_region();
    if (end == std::string::npos) {
      if (preview) preview_list(region, pos, keys, *preview);
      return need_more(at_end);
    }
    // Read through JsonEcho, as call objects are (a repeated name keeps its first value).
    std::string canonical;
    ojson list;
    if (!echo_json(region.substr(pos, end - pos), canonical)) return invalid_region();
    try {
      list = ojson::parse(canonical);
    } catch (const nlohmann::json::exception&) {
      return invalid_region();
    }
    if (list.empty()) return invalid_region();
    for (const auto& item : list) {
      ParsedCall call;
      std::string text;
      if (!dump_json(item, text) || !call_from_object(text, keys, call)) return invalid_region();
      r.calls.push_back(std::move(call));
    }
    r.status = RegionResult::done;
    r.consumed = end;
    return r;
  }
  // name[ARGS]{…}
  const size_t args = region.find(kArgs, pos);
  if (args == std::string::npos) {
    if (region.size() - pos > kMaxName + kCallId.size() + kMaxName) return invalid_region();
    // [CALL_ID] ends the name before [ARGS] comes.
    const size_t id = region.find(kCallId, pos);
    if (preview && id != std::string::npos && valid_name(region.substr(pos, id - pos)))
      preview->push_back({std::string(region.substr(pos, id - pos)), "", false});
    return need_more(at_end);
  }
  std::string_view head = region.substr(pos, args - pos);
  if (const size_t id = head.find(kCallId); id != std::string::npos) head = head.substr(0, id);
  ParsedCall call;
  call.name = std::string(head);
  if (!valid_name(call.name)) return invalid_region();
  const size_t vpos = args + kArgs.size();
  const size_t end = json_value_end(region, vpos, at_end, malformed);
  if (malformed) return invalid_region();
  if (end == std::string::npos) {
    if (preview) preview->push_back(preview_raw_arguments(region, vpos, call.name));
    return need_more(at_end);
  }
  if (!arguments_text(region.substr(vpos, end - vpos), call.arguments)) return invalid_region();
  r.calls.push_back(std::move(call));
  r.status = RegionResult::done;
  r.consumed = end;
  return r;
}

}  // namespace allm::tools
