// The incremental reply parser: splits a reply into content, reasoning and
// calls as it streams. Text that may be the start of a marker is held back
// until decided; a call region is held until its format's parser reads it as
// done (then it becomes calls) or invalid (then its text is content), so a
// half call is never shown and a malformed one never becomes a call.
#include "syntax.hpp"

namespace allm::tools {

namespace {

// Bytes at the end of `s` that start a UTF-8 character not yet complete.
size_t incomplete_utf8_tail(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return len > back ? back : 0;
  }
  return 0;
}

// The longest suffix of `s` that is a proper prefix of one of `markers`.
size_t held_suffix(std::string_view s, const std::vector<std::string_view>& markers) {
  size_t best = 0;
  for (auto m : markers)
    for (size_t k = std::min(s.size(), m.size() - 1); k > best; --k)
      if (s.substr(s.size() - k) == m.substr(0, k)) {
        best = k;
        break;
      }
  return best;
}

}  // namespace

struct ReplyParser::Impl {
  Dialect dialect;
  const Syntax* syntax;
  nlohmann::json tools;
  ToolSet toolset;
  enum Mode { content, reasoning, region } mode = content;
  std::string pending;   // text not yet decided
  bool at_start = true;  // nothing but blanks since the reply (or a reasoning block) began
  bool after_block = false;  // blanks right after a reasoning block or a call are not content
  size_t region_marker = 0;  // length of the marker that opened the current region
  size_t calls = 0;
  std::vector<std::string_view> content_markers;  // starts + dropped (+ reasoning open for harmony)

  Impl(Dialect d, const nlohmann::json& t) : dialect(std::move(d)), syntax(&syntax_of(dialect.format)), tools(t) {
    toolset.tools = &tools;
    for (auto& m : syntax->starts) content_markers.push_back(m);
    for (auto& m : syntax->dropped) content_markers.push_back(m);
    if (reasoning_anywhere()) content_markers.push_back(dialect.think_open);
    if (dialect.starts_in_reasoning && !dialect.think_open.empty()) mode = reasoning;
  }

  bool reasoning_anywhere() const { return dialect.format == Format::harmony && !dialect.think_open.empty(); }

  static void emit(std::vector<ReplyEvent>& out, ReplyEvent::Kind kind, std::string_view text) {
    if (text.empty()) return;
    if (!out.empty() && out.back().kind == kind && kind != ReplyEvent::call) {
      out.back().text += text;
      return;
    }
    ReplyEvent e;
    e.kind = kind;
    e.text = std::string(text);
    out.push_back(std::move(e));
  }

  void emit_content(std::vector<ReplyEvent>& out, size_t n) {
    std::string_view t(pending.data(), n);
    const size_t blanks = skip_blanks(t, 0);
    if (at_start && after_block) t.remove_prefix(blanks);
    if (blanks < n) at_start = after_block = false;
    emit(out, ReplyEvent::content, t);
    pending.erase(0, n);
  }

  bool known_tool(const std::string& name) const { return toolset.parameters(name) != nullptr; }

  // One step; false when nothing more can be decided until more text comes.
  bool step(std::vector<ReplyEvent>& out, bool at_end) {
    if (pending.empty()) return false;
    if (mode == reasoning) {
      const std::string& close = dialect.think_close;
      const size_t at = pending.find(close);
      if (at != std::string::npos) {
        emit(out, ReplyEvent::reasoning, std::string_view(pending).substr(0, at));
        pending.erase(0, at + close.size());
        mode = content;
        at_start = after_block = true;
        return true;
      }
      size_t keep = at_end ? 0 : std::max(held_suffix(pending, {close}), incomplete_utf8_tail(pending));
      emit(out, ReplyEvent::reasoning, std::string_view(pending).substr(0, pending.size() - keep));
      pending.erase(0, pending.size() - keep);
      return false;
    }
    if (mode == region) {
      RegionResult r = syntax->parse(pending, at_end, toolset);
      if (r.status == RegionResult::incomplete && !at_end) return false;
      bool ok = r.status == RegionResult::done && !r.calls.empty();
      for (auto& c : r.calls) ok = ok && known_tool(c.name);
      mode = content;
      if (!ok) {  // not a call after all: the opening marker is content, and the rest is read again
        emit_content(out, std::min(region_marker, pending.size()));
        return true;
      }
      for (auto& c : r.calls) {
        ReplyEvent e;
        e.kind = ReplyEvent::call;
        e.tool_call = {std::move(c.name), std::move(c.arguments)};
        e.index = calls++;
        out.push_back(std::move(e));
      }
      pending.erase(0, r.consumed);
      at_start = after_block = true;
      return true;
    }
    // Content.
    if (at_start) {
      const size_t p = skip_blanks(pending, 0);
      if (p == pending.size()) {
        if (at_end) emit_content(out, pending.size());
        return false;
      }
      std::string_view rest = std::string_view(pending).substr(p);
      const std::string& open = dialect.think_open;
      if (!open.empty() && !reasoning_anywhere()) {
        if (starts_with(rest, open)) {
          pending.erase(0, p + open.size());
          mode = reasoning;
          return true;
        }
        if (is_prefix_of(rest, open) && !at_end) return false;
      }
      if (syntax->object_at_start && rest.front() == '{') {
        pending.erase(0, p);  // blanks before a call are not content
        mode = region;
        region_marker = 1;
        return true;
      }
    }
    // The earliest marker in the text.
    size_t best = std::string::npos, best_len = 0;
    int best_kind = 0;  // 1 start, 2 dropped, 3 reasoning
    auto consider = [&](std::string_view m, int kind) {
      const size_t at = pending.find(m);
      if (at == std::string::npos) return;
      if (at < best || (at == best && m.size() > best_len)) {
        best = at;
        best_len = m.size();
        best_kind = kind;
      }
    };
    for (auto& m : syntax->starts) consider(m, 1);
    for (auto& m : syntax->dropped) consider(m, 2);
    if (reasoning_anywhere()) consider(dialect.think_open, 3);
    if (best != std::string::npos) {
      emit_content(out, best);
      if (best_kind == 1) {
        mode = region;
        region_marker = best_len;
      } else {
        pending.erase(0, best_len);
        if (best_kind == 3) mode = reasoning;
      }
      return true;
    }
    size_t keep = at_end ? 0 : std::max(held_suffix(pending, content_markers), incomplete_utf8_tail(pending));
    // Blanks at the start stay pending too: a call or reasoning may follow them.
    if (!at_end && at_start && skip_blanks(pending, 0) == pending.size() - keep) return false;
    emit_content(out, pending.size() - keep);
    return false;
  }

  std::vector<ReplyEvent> run(bool at_end) {
    std::vector<ReplyEvent> out;
    while (step(out, at_end)) {
    }
    if (at_end && !pending.empty()) {  // whatever is left is content
      emit(out, mode == reasoning ? ReplyEvent::reasoning : ReplyEvent::content, pending);
      pending.clear();
    }
    return out;
  }
};

ReplyParser::ReplyParser(Dialect dialect, const nlohmann::json& tools)
    : impl_(std::make_unique<Impl>(std::move(dialect), tools)) {}
ReplyParser::~ReplyParser() = default;
ReplyParser::ReplyParser(ReplyParser&&) noexcept = default;

std::vector<ReplyEvent> ReplyParser::feed(std::string_view text) {
  impl_->pending.append(text);
  return impl_->run(false);
}

std::vector<ReplyEvent> ReplyParser::finish() { return impl_->run(true); }

ParsedReply parse_reply(const Dialect& dialect, const nlohmann::json& tools, std::string_view text) {
  ReplyParser p(dialect, tools);
  ParsedReply r;
  auto take = [&](std::vector<ReplyEvent> events) {
    for (auto& e : events) {
      if (e.kind == ReplyEvent::content) r.content += e.text;
      else if (e.kind == ReplyEvent::reasoning) r.reasoning += e.text;
      else r.tool_calls.push_back(std::move(e.tool_call));
    }
  };
  take(p.feed(text));
  take(p.finish());
  return r;
}

}  // namespace allm::tools
