// gpt-oss (harmony): a call is a message on the commentary channel addressed
// to the function,
//   <|channel|>commentary to=functions.f <|constrain|>json<|message|>{…}<|call|>
// or, after <|start|>assistant, ` to=functions.f<|channel|>commentary json<|message|>{…}<|call|>`
// (the recipient may come before or after the channel). <|call|> is an end
// token, so the reply may stop right after the arguments.
#include "syntax.hpp"

namespace allm::tools {

namespace {
constexpr std::string_view kHarmonyTo = "to=functions.", kHarmonyMessage = "<|message|>", kHarmonyCall = "<|call|>";
constexpr size_t kMaxHeader = 512;
}  // namespace

RegionResult parse_harmony(std::string_view region, bool at_end, const ToolSet&, Preview* preview) {
  const size_t to = region.find(kHarmonyTo);
  if (to == std::string::npos) return invalid_region();
  const size_t name_pos = to + kHarmonyTo.size();
  size_t name_end = name_pos;
  while (name_end < region.size() && region[name_end] != ' ' && region[name_end] != '<' && region[name_end] != '\n')
    ++name_end;
  if (name_end >= region.size()) return name_end - name_pos > kMaxHeader ? invalid_region() : need_more(at_end);
  ParsedCall call;
  call.name = std::string(region.substr(name_pos, name_end - name_pos));
  if (call.name.empty()) return invalid_region();
  const size_t msg = region.find(kHarmonyMessage, name_end);
  if (msg == std::string::npos) {
    if (region.size() - name_end > kMaxHeader) return invalid_region();
    if (preview) preview->push_back({call.name, "", false});
    return need_more(at_end);
  }
  if (msg - name_end > kMaxHeader) return invalid_region();
  const size_t vpos = msg + kHarmonyMessage.size();
  bool malformed = false;
  const size_t end = json_value_end(region, vpos, at_end, malformed);
  if (malformed) return invalid_region();
  if (end == std::string::npos) {
    if (preview) preview->push_back(preview_raw_arguments(region, vpos, call.name));
    return need_more(at_end);
  }
  if (!arguments_text(region.substr(vpos, end - vpos), call.arguments)) return invalid_region();
  preview_whole(preview, {call});
  return close_tag(region, end, at_end, {std::move(call)}, kHarmonyCall);
}

}  // namespace allm::tools
