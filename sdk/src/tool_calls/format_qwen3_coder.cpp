// Qwen3-Coder / Qwen3.5 / Nemotron 3: XML calls, one parameter per tag, values
// as plain text:
//   <tool_call>\n<function=f>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>
// A value is typed by the tool's schema: string parameters keep the text,
// others are read as JSON (falling back to the text when it is not JSON).
#include "syntax.hpp"

namespace allm::tools {

namespace {

constexpr std::string_view kCoderOpen = "<tool_call>", kCoderClose = "</tool_call>", kCoderFunction = "<function=",
                           kFunctionEnd = "</function>", kParameter = "<parameter=", kParameterEnd = "</parameter>";

bool is_string_type(const nlohmann::json* params, const std::string& key) {
  if (!params || !params->contains("properties")) return false;
  const auto& props = (*params)["properties"];
  if (!props.is_object() || !props.contains(key)) return false;
  const auto& s = props[key];
  if (!s.is_object() || !s.contains("type")) return false;
  const auto& t = s["type"];
  if (t.is_string()) return t == "string";
  if (t.is_array()) return t.size() == 1 && t[0] == "string";
  return false;
}

}  // namespace

RegionResult parse_qwen3_coder(std::string_view region, bool at_end, const ToolSet& tools, Preview* preview) {
  size_t pos = 0;
  if (starts_with(region, kCoderOpen)) pos = kCoderOpen.size();
  pos = skip_blanks(region, pos);
  std::string_view rest = region.substr(pos);
  if (!starts_with(rest, kCoderFunction))
    return is_prefix_of(rest, kCoderFunction) || rest.empty() ? need_more(at_end) : invalid_region();
  pos += kCoderFunction.size();
  const size_t name_end = region.find('>', pos);
  if (name_end == std::string::npos) return region.size() - pos > kMaxName ? invalid_region() : need_more(at_end);
  ParsedCall call;
  call.name = std::string(region.substr(pos, name_end - pos));
  if (call.name.empty() || call.name.size() > kMaxName || call.name.find('\n') != std::string::npos)
    return invalid_region();
  pos = name_end + 1;
  const nlohmann::json* params = tools.parameters(call.name);
  ojson args = ojson::object();
  // Incomplete: the call with the parameters read whole, as the start of its
  // arguments' JSON text (a value is typed once its closing tag is read).
  auto wait = [&] {
    std::string text;
    if (preview && dump_json(args, text)) preview->push_back({call.name, text.substr(0, text.size() - 1), false});
    else if (preview) preview->push_back({call.name, "", false});
    return need_more(at_end);
  };
  for (;;) {
    pos = skip_blanks(region, pos);
    rest = region.substr(pos);
    if (starts_with(rest, kFunctionEnd)) {
      pos += kFunctionEnd.size();
      break;
    }
    if (!starts_with(rest, kParameter))
      return rest.empty() || is_prefix_of(rest, kFunctionEnd) || is_prefix_of(rest, kParameter) ? wait()
                                                                                                 : invalid_region();
    pos += kParameter.size();
    const size_t key_end = region.find('>', pos);
    if (key_end == std::string::npos) return region.size() - pos > kMaxName ? invalid_region() : wait();
    const std::string key(region.substr(pos, key_end - pos));
    if (key.empty() || key.size() > kMaxName || key.find('\n') != std::string::npos) return invalid_region();
    const size_t value_end = region.find(kParameterEnd, key_end + 1);
    if (value_end == std::string::npos) return wait();
    std::string_view value = region.substr(key_end + 1, value_end - key_end - 1);
    // The template writes one newline on each side of the value.
    if (!value.empty() && value.front() == '\n') value.remove_prefix(1);
    if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
    if (args.contains(key)) {
      // A repeated parameter keeps its first value: that one may have been streamed already.
    } else if (is_string_type(params, key)) {
      args[key] = std::string(value);
    } else {
      try {
        args[key] = ojson::parse(value);
      } catch (const nlohmann::json::exception&) {
        args[key] = std::string(value);
      }
    }
    pos = value_end + kParameterEnd.size();
  }
  if (!dump_json(args, call.arguments)) return invalid_region();
  preview_whole(preview, {call});
  return close_tag(region, pos, at_end, {std::move(call)}, kCoderClose);
}

}  // namespace allm::tools
