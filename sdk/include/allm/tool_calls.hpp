#pragma once
// Tool calls: how each model family writes a call of one of the request's
// tools, read back out of its reply — whole or incrementally while it streams —
// and the grammar that forces a reply to be such a call (tool_choice
// "required" / a named function). Reasoning text (`<think>`…`</think>`,
// `[THINK]`…`[/THINK]`, harmony's analysis channel) is split off too, and
// never searched for calls. See docs/tools.md.
//
//   auto dialect = allm::tools::detect_dialect(template_source);
//   allm::tools::ReplyParser p(dialect, tools_json);
//   for (auto& e : p.feed(piece)) ...;   // content / reasoning / call events
//   for (auto& e : p.finish()) ...;
//
// A call is only ever reported once it is complete and well formed; text that
// looked like the start of a call but is not one comes back as content, so a
// half call is never shown as text and a malformed one never becomes a call.
// With CallEvents::streamed a call is also shown while it is written: its
// start (the name, as soon as it is read and names one of the tools), then
// fragments of its arguments text, each final — together exactly the
// arguments of the whole call.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace allm::grammar {
struct Grammar;
}

namespace allm::tools {

// The call syntaxes (docs/tools.md, "Formats").
enum class Format {
  none,            // the template renders no tool calls we know
  hermes,          // <tool_call>{"name": …, "arguments": {…}}</tool_call>  (Hermes, Qwen2.5, Qwen3)
  qwen3_coder,     // <tool_call><function=f><parameter=k>v</parameter></function></tool_call>
  llama3,          // {"name": …, "parameters": {…}}, optionally after <|python_tag|>
  mistral,         // [TOOL_CALLS][{"name": …, "arguments": {…}}, …]
  mistral_args,    // [TOOL_CALLS]f[ARGS]{…}
  harmony,         // gpt-oss: <|channel|>commentary to=functions.f <|constrain|>json<|message|>{…}<|call|>
  deepseek_r1,     // <｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{…}\n```<｜tool▁call▁end｜>
  deepseek_v3_1,   // <｜tool▁call▁begin｜>f<｜tool▁sep｜>{…}<｜tool▁call▁end｜>
  gemma4,          // <|tool_call>call:f{city:<|"|>Paris<|"|>}<tool_call|>
};

const char* format_name(Format f);
// "hermes", "qwen3_coder", … (as format_name); nullopt for an unknown name.
std::optional<Format> format_from_name(std::string_view name);
// Every name format_from_name accepts, for error messages.
std::string format_names();

// How a model writes calls and reasoning.
struct Dialect {
  Format format = Format::none;
  std::string think_open, think_close;  // reasoning tags; empty when the model has none
  // The reply starts inside the reasoning block (the prompt ended with
  // think_open, as DeepSeek R1's and some Qwen3 templates' generation prompts do).
  bool starts_in_reasoning = false;
};

// The dialect a chat template's model uses, from the markers the template
// renders (a table in tool_calls/formats.cpp; docs/tools.md lists it).
Dialect detect_dialect(std::string_view template_source);
// True when `prompt` (rendered, generation prompt included) ends inside an
// opened reasoning block of `d`.
bool prompt_opens_reasoning(const Dialect& d, std::string_view prompt);

// Special tokens the format's calls are written with: the detokenizer must
// keep them in the reply's text (they are usually skipped as special).
std::vector<std::string> preserved_tokens(const Dialect& d);

struct ToolCall {
  std::string name;
  std::string arguments;  // a JSON object, as text
};

struct ReplyEvent {
  enum Kind {
    content,
    reasoning,
    call,            // a whole call (tool_call)
    // CallEvents::streamed only:
    call_start,      // a call begins: tool_call.name
    call_arguments,  // the next piece of its arguments text (text)
    call_abandoned,  // a started call turned out not to be one (malformed, or the reply ended inside it):
                     // no `call` follows for this index; its text comes back as content after this event
  } kind = content;
  std::string text;  // content or reasoning text; call_arguments: the piece
  ToolCall tool_call;  // call: the call; call_start: its name
  // Calls: 0, 1, … in the order the calls were written (streamed: in the
  // order they started, an abandoned call keeping its number).
  size_t index = 0;
};

// What a parser reports of calls: whole calls only, or also each call as it
// is written (call_start, call_arguments…, then call or call_abandoned).
// The pieces of a call's arguments are never taken back: they are the
// arguments text of the `call` event, split. A call starts once its name is
// read (before its arguments, in every format) and is one of the tools; its
// pieces come as its arguments are read: JSON written by the model as each
// token (string characters, a number once it ends) is certain, formats whose
// arguments are not JSON on the wire (qwen3_coder's parameters, gemma4's
// notation) one argument at a time, as each is read whole.
enum class CallEvents { whole, streamed };

// Incremental parser of one reply. `tools`: the request's OpenAI-style tool
// specs ([{type: function, function: {name, parameters}}]); calls of a name
// not among them come back as content. Feed text in any pieces (split
// anywhere, even inside a marker or a UTF-8 character): the events are the
// same as for the whole text at once, only later (and, streamed, the
// arguments' pieces cut differently).
class ReplyParser {
 public:
  ReplyParser(Dialect dialect, const nlohmann::json& tools, CallEvents calls = CallEvents::whole);
  ~ReplyParser();
  ReplyParser(ReplyParser&&) noexcept;
  std::vector<ReplyEvent> feed(std::string_view text);
  // The end of the reply: whatever was held back is decided (an unfinished
  // call becomes content).
  std::vector<ReplyEvent> finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ParsedReply {
  std::string content, reasoning;
  std::vector<ToolCall> tool_calls;
};
ParsedReply parse_reply(const Dialect& dialect, const nlohmann::json& tools, std::string_view text);

// The grammar of a reply that is nothing but calls in `format`'s syntax: one
// call (or, with `parallel`, one or more) of one of `names` (all tools when
// empty), each with arguments valid under that tool's `parameters` schema.
// Throws InvalidArgumentError naming the tool and the schema keyword/pointer
// it cannot honour, a name not among the tools, or a format without a call
// syntax (Format::none).
std::shared_ptr<const grammar::Grammar> compile_call_grammar(Format format, const nlohmann::json& tools,
                                                             const std::vector<std::string>& names, bool parallel);

// The same from OutputGrammar{kind "tool_calls"}'s source text:
// {"format": NAME, "tools": [...], "names": [...], "parallel": bool}.
std::shared_ptr<const grammar::Grammar> compile_call_grammar_text(std::string_view source);

}  // namespace allm::tools
