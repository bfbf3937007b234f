// The incremental reply parser: splits a reply into content, reasoning and
// calls as it streams. Text that may be the start of a marker is held back
// until decided; a call region is held until its format's parser reads it as
// done (then it becomes calls) or invalid (then its text is content), so a
// half call is never shown as text and a malformed one never becomes a call.
// Streamed (CallEvents::streamed), the region's calls are also shown while it
// is held, from what the format's parser previews of them (CallPreview): only
// text that the calls' final arguments must begin with, so nothing sent is
// ever taken back; a region that turns out invalid abandons its started calls.
#include "syntax.hpp"

namespace allm::tools {

namespace {

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
  bool streamed = false;
  struct Started {  // a call of the current region already shown
    size_t index;
    std::string name, sent;  // sent: its arguments text so far
  };
  std::vector<Started> started;

  Impl(Dialect d, const nlohmann::json& t, CallEvents events)
      : dialect(std::move(d)), syntax(&syntax_of(dialect.format)), tools(t), streamed(events == CallEvents::streamed) {
    toolset.tools = &tools;
    for (auto& m : syntax->starts) content_markers.push_back(m);
    for (auto& m : syntax->dropped) content_markers.push_back(m);
    if (reasoning_anywhere()) content_markers.push_back(dialect.think_open);
    if (dialect.starts_in_reasoning && !dialect.think_open.empty()) mode = reasoning;
  }

  bool reasoning_anywhere() const { return dialect.format == Format::harmony && !dialect.think_open.empty(); }

  static void emit(std::vector<ReplyEvent>& out, ReplyEvent::Kind kind, std::string_view text) {
    if (text.empty()) return;
    if (!out.empty() && out.back().kind == kind && (kind == ReplyEvent::content || kind == ReplyEvent::reasoning)) {
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

  static ReplyEvent call_event(ReplyEvent::Kind kind, size_t index, std::string name = {}, std::string text = {}) {
    ReplyEvent e;
    e.kind = kind;
    e.index = index;
    e.tool_call.name = std::move(name);
    e.text = std::move(text);
    return e;
  }

  void start_call(std::vector<ReplyEvent>& out, const std::string& name) {
    started.push_back({calls++, name, ""});
    out.push_back(call_event(ReplyEvent::call_start, started.back().index, name));
  }

  // Sends what `arguments` (certain text of the call's arguments) adds to
  // what call `s` has sent, in whole UTF-8 characters.
  static void send_arguments(std::vector<ReplyEvent>& out, Started& s, const std::string& arguments) {
    if (arguments.size() <= s.sent.size() || !starts_with(arguments, s.sent)) return;
    std::string_view more = std::string_view(arguments).substr(s.sent.size());
    more.remove_suffix(incomplete_utf8_tail(more));
    if (more.empty()) return;
    s.sent += more;
    out.push_back(call_event(ReplyEvent::call_arguments, s.index, {}, std::string(more)));
  }

  // Streamed: shows what an incomplete region's calls are known to be. A call
  // starts once its name is read and is a tool's; the next one only after it
  // is whole and all of it was sent (so a call's pieces never interleave).
  void show_preview(std::vector<ReplyEvent>& out, const Preview& preview) {
    for (size_t i = 0; i < preview.size(); ++i) {
      const CallPreview& p = preview[i];
      if (i == started.size()) {
        if (i > 0 && !(preview[i - 1].complete && started[i - 1].sent == preview[i - 1].arguments)) return;
        if (p.name.empty() || !known_tool(p.name)) return;
        start_call(out, p.name);
      }
      Started& s = started[i];
      if (p.name != s.name) return;  // a shown name is final: never reached
      send_arguments(out, s, p.arguments);
    }
  }

  // Streamed: the region is read as done with `calls`; the calls not shown
  // yet start, and each sends the rest of its arguments.
  void finish_calls(std::vector<ReplyEvent>& out, std::vector<ParsedCall>& region_calls) {
    for (size_t i = 0; i < region_calls.size(); ++i) {
      ParsedCall& c = region_calls[i];
      if (i < started.size() && (started[i].name != c.name || !starts_with(c.arguments, started[i].sent))) {
        // What was shown is not this call (a preview that broke its promise:
        // a bug). Never send a corrupted call: this one is abandoned, the
        // call is sent again whole under a new number.
        out.push_back(call_event(ReplyEvent::call_abandoned, started[i].index));
        started.erase(started.begin() + static_cast<std::ptrdiff_t>(i), started.end());
      }
      if (i == started.size()) start_call(out, c.name);
      send_arguments(out, started[i], c.arguments);
      ReplyEvent e;
      e.kind = ReplyEvent::call;
      e.tool_call = {std::move(c.name), std::move(c.arguments)};
      e.index = started[i].index;
      out.push_back(std::move(e));
    }
    for (size_t i = region_calls.size(); i < started.size(); ++i)
      out.push_back(call_event(ReplyEvent::call_abandoned, started[i].index));
    started.clear();
  }

  void abandon_calls(std::vector<ReplyEvent>& out) {
    for (const auto& s : started) out.push_back(call_event(ReplyEvent::call_abandoned, s.index));
    started.clear();
  }

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
      Preview preview;
      RegionResult r = syntax->parse(pending, at_end, toolset, streamed && !at_end ? &preview : nullptr);
      if (r.status == RegionResult::incomplete && !at_end) {
        show_preview(out, preview);
        return false;
      }
      bool ok = r.status == RegionResult::done && !r.calls.empty();
      for (auto& c : r.calls) ok = ok && known_tool(c.name);
      mode = content;
      if (!ok) {  // not a call after all: the opening marker is content, and the rest is read again
        abandon_calls(out);
        emit_content(out, std::min(region_marker, pending.size()));
        return true;
      }
      if (streamed) {
        finish_calls(out, r.calls);
      } else {
        for (auto& c : r.calls) {
          ReplyEvent e;
          e.kind = ReplyEvent::call;
          e.tool_call = {std::move(c.name), std::move(c.arguments)};
          e.index = calls++;
          out.push_back(std::move(e));
        }
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

ReplyParser::ReplyParser(Dialect dialect, const nlohmann::json& tools, CallEvents calls)
    : impl_(std::make_unique<Impl>(std::move(dialect), tools, calls)) {}
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
