#pragma once
// Tool calling over HTTP (docs/tools.md): each API's tool_choice turned into
// a grammar that forces a call, and each reply split — whole or as it
// streams — into content, reasoning and tool calls in the served model's own
// format (allm/tool_calls.hpp). The API adapters only render the events.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "allm/tool_calls.hpp"
#include "inference.hpp"
#include "server_context.hpp"

namespace allm::server {

// What a request asked of tools: which of them may or must be called.
struct ToolChoice {
  enum Mode { automatic, none, required, named } mode = automatic;
  std::string name;       // mode named
  bool parallel = true;   // more than one call allowed
};

// How the served model writes calls and reasoning: detected from its chat
// template by the provider, or allm serve --tool-call-format.
tools::Dialect model_dialect(const ServerContext& ctx, const ServedModel& model);

// Applies `choice` to `req` (its tools already set): none drops the tools;
// required/named set the grammar forcing a call (a 400 when the reply is
// already constrained, the model has no known call format, or the named tool
// is not among the tools).
void apply_tool_choice(const ServerContext& ctx, InferenceRequest& req, const ToolChoice& choice);

// How this request's reply is split: reasoning whenever the model has
// reasoning tags (from the start when the prompt opened the block), calls
// only when the request offered tools.
tools::Dialect reply_dialect(const ServerContext& ctx, const InferenceRequest& req);

// One reply's splitter. `calls`: streamed for the OpenAI and Anthropic
// streams (a call's start and its arguments' pieces as the model writes
// them); whole where a call is sent in one piece (non-streamed replies, Ollama).
class ReplySplitter {
 public:
  ReplySplitter(const ServerContext& ctx, const InferenceRequest& req,
                tools::CallEvents calls = tools::CallEvents::whole);
  ReplySplitter(const tools::Dialect& dialect, const nlohmann::json& tools,
                tools::CallEvents calls = tools::CallEvents::whole);
  std::vector<tools::ReplyEvent> feed(const std::string& text);
  std::vector<tools::ReplyEvent> finish();
  // The end of the reply `response`: what the parser held back, then the
  // reasoning and calls the provider returned as data (a remote model's,
  // GenerateResponse::tool_calls), numbered after the calls parsed from text
  // (streamed: each as its start, its arguments in one piece, and the call).
  std::vector<tools::ReplyEvent> finish(const GenerateResponse& response);

 private:
  std::vector<tools::ReplyEvent> counted(std::vector<tools::ReplyEvent> events);
  tools::ReplyParser parser_;
  bool streamed_;
  size_t calls_ = 0;  // calls reported so far (started, when streamed)
};

// A whole reply (nothing fed before) through `splitter`, with the provider's
// structured calls and reasoning.
tools::ParsedReply whole_reply(ReplySplitter& splitter, const GenerateResponse& response);

// True when the model's provider returns tool calls as data (a remote API):
// tool_choice then goes to it as GenerateRequest::tool_choice, not as a grammar.
bool structured_tool_calls(const ServedModel& model);

// Random call ids in each API's style: "call_…", "toolu_…".
std::string call_id(const char* prefix);

// Earlier turns' calls in the chat templates' shape, and tool-result names
// filled from the call they answer (templates such as Llama's print it).
void name_tool_results(std::vector<Message>& messages);

}  // namespace allm::server
