// Feeds random replies to the tool-call parsers. Input: FORMAT SPLIT TEXT —
// FORMAT one byte (modulo the formats; odd values also turn on <think> tags),
// SPLIT one byte (where the streamed copy is cut, modulo the text's length).
// The reply is parsed whole, then streamed in two pieces and byte by byte:
// all three must give the same content, reasoning and calls (else abort), and
// nothing may crash or throw. The streamed copies run with streamed calls
// too (CallEvents::streamed): the same content, reasoning and calls, each
// call's argument pieces adding up to exactly its arguments, calls numbered
// as they start and never interleaved, an abandoned call followed by its
// text as content (so a call sent twice to make up for a broken promise, the
// parser's last guard, is caught here as a bug).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "allm/tool_calls.hpp"

namespace {

const nlohmann::json& tools() {
  static const nlohmann::json t = nlohmann::json::parse(R"([
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object",
      "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "get_weather"}}])");
  return t;
}

allm::tools::ParsedReply run(const allm::tools::Dialect& d, const std::string& text, size_t piece) {
  allm::tools::ReplyParser p(d, tools());
  allm::tools::ParsedReply r;
  auto take = [&](std::vector<allm::tools::ReplyEvent> events) {
    for (auto& e : events) {
      if (e.kind == allm::tools::ReplyEvent::content) r.content += e.text;
      else if (e.kind == allm::tools::ReplyEvent::reasoning) r.reasoning += e.text;
      else r.tool_calls.push_back(e.tool_call);
    }
  };
  for (size_t i = 0; i < text.size(); i += piece) take(p.feed(std::string_view(text).substr(i, piece)));
  take(p.finish());
  return r;
}

// The streamed-calls parse, checking its events as it goes (abort on a broken rule).
allm::tools::ParsedReply run_streamed(const allm::tools::Dialect& d, const std::string& text, size_t piece) {
  using allm::tools::ReplyEvent;
  allm::tools::ReplyParser p(d, tools(), allm::tools::CallEvents::streamed);
  allm::tools::ParsedReply r;
  struct Call {
    std::string name, args;
    bool ended = false;
  };
  std::vector<Call> calls;
  bool after_abandon = false;
  auto take = [&](std::vector<ReplyEvent> events) {
    for (auto& e : events) {
      if (after_abandon && e.kind != ReplyEvent::call_abandoned) {
        if (e.kind != ReplyEvent::content) std::abort();
        after_abandon = false;
      }
      switch (e.kind) {
        case ReplyEvent::content: r.content += e.text; break;
        case ReplyEvent::reasoning: r.reasoning += e.text; break;
        case ReplyEvent::call_start:
          if (e.index != calls.size()) std::abort();
          calls.push_back({e.tool_call.name, "", false});
          break;
        case ReplyEvent::call_arguments:
          if (e.index + 1 != calls.size() || calls.back().ended || e.text.empty()) std::abort();
          calls.back().args += e.text;
          break;
        case ReplyEvent::call:
          if (e.index >= calls.size() || calls[e.index].ended || calls[e.index].name != e.tool_call.name ||
              calls[e.index].args != e.tool_call.arguments)
            std::abort();
          calls[e.index].ended = true;
          r.tool_calls.push_back(e.tool_call);
          break;
        case ReplyEvent::call_abandoned:
          if (e.index >= calls.size() || calls[e.index].ended) std::abort();
          calls[e.index].ended = true;
          after_abandon = true;
          break;
      }
    }
  };
  for (size_t i = 0; i < text.size(); i += piece) take(p.feed(std::string_view(text).substr(i, piece)));
  take(p.finish());
  if (after_abandon) std::abort();
  for (auto& c : calls)
    if (!c.ended) std::abort();
  return r;
}

bool same(const allm::tools::ParsedReply& a, const allm::tools::ParsedReply& b) {
  if (a.content != b.content || a.reasoning != b.reasoning || a.tool_calls.size() != b.tool_calls.size()) return false;
  for (size_t i = 0; i < a.tool_calls.size(); ++i)
    if (a.tool_calls[i].name != b.tool_calls[i].name || a.tool_calls[i].arguments != b.tool_calls[i].arguments)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 4096) return 0;
  static const char* kFormats[] = {"hermes", "qwen3_coder", "llama3", "mistral", "mistral_args",
                                   "harmony", "deepseek_r1", "deepseek_v3_1", "gemma4", "none"};
  allm::tools::Dialect d;
  d.format = *allm::tools::format_from_name(kFormats[(data[0] >> 1) % 10]);
  if (d.format == allm::tools::Format::harmony) {
    d.think_open = "<|channel|>analysis<|message|>";
    d.think_close = "<|end|>";
  } else if (data[0] & 1) {
    d.think_open = "<think>";
    d.think_close = "</think>";
  }
  const std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);
  const auto whole = run(d, text, text.size() + 1);
  const size_t split = text.empty() ? 1 : 1 + data[1] % text.size();
  if (!same(whole, run(d, text, split)) || !same(whole, run(d, text, 1))) std::abort();
  if (!same(whole, run_streamed(d, text, split)) || !same(whole, run_streamed(d, text, 1))) std::abort();
  return 0;
}
