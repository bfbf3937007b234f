// DeepSeek: calls in a block of begin/end tokens. R1 (and V3) write
//   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{…}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>
// V3.1 and later drop the type and the fence:
//   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{…}<｜tool▁call▁end｜><｜tool▁calls▁end｜>
#include "syntax.hpp"

namespace allm::tools {

namespace {
constexpr std::string_view kCallsBegin = "<｜tool▁calls▁begin｜>", kCallsEnd = "<｜tool▁calls▁end｜>",
                           kCallBegin = "<｜tool▁call▁begin｜>", kCallEnd = "<｜tool▁call▁end｜>",
                           kSep = "<｜tool▁sep｜>", kFence = "```json", kFenceEnd = "```";
}  // namespace

RegionResult parse_deepseek(std::string_view region, bool at_end, const ToolSet&, Preview* preview) {
  RegionResult r;
  // Text so far is a prefix of `m` at `p` (incomplete) — or not `m` at all.
  auto partial = [&](size_t p, std::string_view m) {
    std::string_view rest = region.substr(p);
    return rest.empty() || is_prefix_of(rest, m);
  };
  size_t pos = 0;
  const bool block = starts_with(region, kCallsBegin);
  if (block) pos = kCallsBegin.size();
  std::vector<ParsedCall> calls;
  // Incomplete: the whole calls so far, then the one being written (if its name is read).
  auto wait = [&](const CallPreview* current) {
    preview_whole(preview, calls);
    if (preview && current) preview->push_back(*current);
    return need_more(at_end);
  };
  for (;;) {
    pos = skip_blanks(region, pos);
    if (!starts_with(region.substr(pos), kCallBegin)) {
      if (calls.empty()) return partial(pos, kCallBegin) ? need_more(at_end) : invalid_region();
      break;
    }
    pos += kCallBegin.size();
    const size_t sep = region.find(kSep, pos);
    if (sep == std::string::npos) return region.size() - pos > kMaxName ? invalid_region() : wait(nullptr);
    std::string_view head = region.substr(pos, sep - pos);
    pos = sep + kSep.size();
    ParsedCall call;
    const bool typed = head == "function";
    if (typed) {
      const size_t nl = region.find('\n', pos);
      if (nl == std::string::npos) return region.size() - pos > kMaxName ? invalid_region() : wait(nullptr);
      call.name = std::string(region.substr(pos, nl - pos));
    } else {
      call.name = std::string(head);
    }
    if (call.name.empty() || call.name.size() > kMaxName) return invalid_region();
    const CallPreview named{call.name, "", false};
    if (typed) {
      pos = skip_blanks(region, region.find('\n', pos));
      if (starts_with(region.substr(pos), kFence)) pos += kFence.size();
      else if (partial(pos, kFence)) return wait(&named);
    }
    bool malformed = false;
    const size_t end = json_value_end(region, pos, at_end, malformed);
    if (malformed) return invalid_region();
    if (end == std::string::npos) {
      const CallPreview current = preview_raw_arguments(region, pos, call.name);
      return wait(&current);
    }
    if (!arguments_text(region.substr(pos, end - pos), call.arguments)) return invalid_region();
    pos = skip_blanks(region, end);
    calls.push_back(std::move(call));
    if (typed) {
      if (starts_with(region.substr(pos), kFenceEnd)) pos = skip_blanks(region, pos + kFenceEnd.size());
      else if (partial(pos, kFenceEnd)) return wait(nullptr);
    }
    if (starts_with(region.substr(pos), kCallEnd)) pos += kCallEnd.size();
    else if (partial(pos, kCallEnd)) return wait(nullptr);
    else break;
    // Another call may follow.
    const size_t next = skip_blanks(region, pos);
    if (next >= region.size() || is_prefix_of(region.substr(next), kCallBegin) ||
        is_prefix_of(region.substr(next), kCallsEnd)) {
      if (!at_end) return wait(nullptr);
      pos = next;
      break;
    }
  }
  pos = skip_blanks(region, pos);
  // The block's end token is taken with the calls, also after calls without
  // the block's begin (a stray end): so, until the text says whether it
  // follows, wait, or a reply streamed in pieces would keep as content what
  // the whole reply drops.
  if (starts_with(region.substr(pos), kCallsEnd)) pos += kCallsEnd.size();
  else if (partial(pos, kCallsEnd) && !at_end) return wait(nullptr);
  r.status = RegionResult::done;
  r.calls = std::move(calls);
  r.consumed = std::min(pos, region.size());
  return r;
}

}  // namespace allm::tools
