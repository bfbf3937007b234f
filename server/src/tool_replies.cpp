#include "tool_replies.hpp"

#include <algorithm>
#include <map>

#include "allm/error.hpp"

namespace allm::server {

namespace {

tools::Dialect dialect_for(const ServerContext& ctx, const ServedModel& model) {
  tools::Dialect d;
  const json& info = model.caps.model_info;
  std::string format = ctx.options.tool_call_format;
  if (format.empty() && info.contains("tool_call_format") && info["tool_call_format"].is_string())
    format = info["tool_call_format"].get<std::string>();
  if (auto f = tools::format_from_name(format)) d.format = *f;
  if (info.contains("reasoning_tags") && info["reasoning_tags"].is_object()) {
    d.think_open = info["reasoning_tags"].value("open", std::string());
    d.think_close = info["reasoning_tags"].value("close", std::string());
  }
  if (d.format == tools::Format::harmony && d.think_open.empty()) {
    d.think_open = "<|channel|>analysis<|message|>";
    d.think_close = "<|end|>";
  }
  return d;
}

// The dialect of this request's reply: calls only when tools were offered;
// a prompt that opened a reasoning block starts the reply inside it.
tools::Dialect request_dialect(const ServerContext& ctx, const InferenceRequest& req) {
  tools::Dialect d = dialect_for(ctx, *req.model);
  if (req.raw) return {};
  const bool offered = (req.generate.tools.is_array() && !req.generate.tools.empty());
  if (!offered) d.format = tools::Format::none;
  if (!d.think_open.empty() && d.format != tools::Format::harmony &&
      req.model->caps.model_info.value("prompt_inspection", false)) {
    try {
      d.starts_in_reasoning = tools::prompt_opens_reasoning(d, req.model->chat->preview_prompt(req.generate).text);
    } catch (const std::exception&) {
      // The generation itself reports a prompt that cannot be rendered.
    }
  }
  return d;
}

}  // namespace

tools::Dialect model_dialect(const ServerContext& ctx, const ServedModel& model) { return dialect_for(ctx, model); }

tools::Dialect reply_dialect(const ServerContext& ctx, const InferenceRequest& req) { return request_dialect(ctx, req); }

void apply_tool_choice(const ServerContext& ctx, InferenceRequest& req, const ToolChoice& choice) {
  GenerateRequest& g = req.generate;
  const bool offered = g.tools.is_array() && !g.tools.empty();
  if (choice.mode == ToolChoice::none) {
    g.tools = json::array();
    return;
  }
  if (choice.mode == ToolChoice::automatic) return;
  if (!offered) throw bad_request("tool_choice forces a tool call, but the request has no tools", "tool_choice");
  if (structured_tool_calls(*req.model)) {  // the remote API forces the call itself
    if (choice.mode == ToolChoice::required) g.tool_choice = "required";
    else g.tool_choice = {{"type", "function"}, {"function", {{"name", choice.name}}}};
    try {
      g.validate();
    } catch (const InvalidArgumentError& e) {
      throw bad_request(e.what(), "tool_choice");
    }
    return;
  }
  if (g.grammar)
    throw bad_request("tool_choice forces a tool call and the reply is also constrained by a schema or grammar; "
                      "use one of them",
                      "tool_choice");
  const tools::Format format = dialect_for(ctx, *req.model).format;
  if (format == tools::Format::none)
    throw bad_request("tool_choice forces a tool call, but the chat template of '" + req.model->id +
                          "' has no tool-call format allm knows (start allm serve with --tool-call-format NAME; "
                          "formats: " + tools::format_names() + ")",
                      "tool_choice");
  std::vector<std::string> names;
  if (choice.mode == ToolChoice::named) names.push_back(choice.name);
  // Compiled here so a schema the engine cannot honour is a 400 before the
  // request is queued (the provider compiles the same text again).
  const json spec = {{"format", tools::format_name(format)}, {"tools", g.tools}, {"names", names},
                     {"parallel", choice.parallel && choice.mode == ToolChoice::required}};
  try {
    tools::compile_call_grammar_text(spec.dump());
  } catch (const InvalidArgumentError& e) {
    throw bad_request(e.what(), "tool_choice");
  }
  g.grammar = OutputGrammar{"tool_calls", spec.dump()};
}

ReplySplitter::ReplySplitter(const ServerContext& ctx, const InferenceRequest& req, tools::CallEvents calls)
    : parser_(request_dialect(ctx, req), req.generate.tools, calls), streamed_(calls == tools::CallEvents::streamed) {}
ReplySplitter::ReplySplitter(const tools::Dialect& dialect, const nlohmann::json& tools, tools::CallEvents calls)
    : parser_(dialect, tools, calls), streamed_(calls == tools::CallEvents::streamed) {}

std::vector<tools::ReplyEvent> ReplySplitter::counted(std::vector<tools::ReplyEvent> events) {
  for (const auto& e : events)
    if (e.kind == tools::ReplyEvent::call || e.kind == tools::ReplyEvent::call_start)
      calls_ = std::max(calls_, e.index + 1);
  return events;
}

std::vector<tools::ReplyEvent> ReplySplitter::feed(const std::string& text) { return counted(parser_.feed(text)); }
std::vector<tools::ReplyEvent> ReplySplitter::finish() { return counted(parser_.finish()); }

std::vector<tools::ReplyEvent> ReplySplitter::finish(const GenerateResponse& response) {
  std::vector<tools::ReplyEvent> events = finish();
  if (!response.reasoning.empty()) events.push_back({tools::ReplyEvent::reasoning, response.reasoning, {}, 0});
  for (const auto& c : response.tool_calls) {
    const json& f = c.contains("function") ? c["function"] : c;
    const json args = f.contains("arguments") ? f["arguments"] : json::object();
    tools::ToolCall call{f.value("name", std::string()), args.is_string() ? args.get<std::string>() : args.dump()};
    if (streamed_) {
      events.push_back({tools::ReplyEvent::call_start, "", {call.name, ""}, calls_});
      if (!call.arguments.empty()) events.push_back({tools::ReplyEvent::call_arguments, call.arguments, {}, calls_});
    }
    events.push_back({tools::ReplyEvent::call, "", std::move(call), calls_++});
  }
  return events;
}

bool structured_tool_calls(const ServedModel& model) {
  return model.caps.model_info.is_object() && model.caps.model_info.value("structured_tool_calls", false);
}

tools::ParsedReply whole_reply(ReplySplitter& splitter, const GenerateResponse& response) {
  const std::string& text = response.text;
  tools::ParsedReply r;
  auto take = [&](std::vector<tools::ReplyEvent> events) {
    for (auto& e : events) {
      if (e.kind == tools::ReplyEvent::content) r.content += e.text;
      else if (e.kind == tools::ReplyEvent::reasoning) r.reasoning += e.text;
      else r.tool_calls.push_back(std::move(e.tool_call));
    }
  };
  take(splitter.feed(text));
  take(splitter.finish(response));
  return r;
}

std::string call_id(const char* prefix) { return random_id(prefix); }

void name_tool_results(std::vector<Message>& messages) {
  std::map<std::string, std::string> names;
  for (auto& m : messages) {
    for (auto& c : m.tool_calls)
      if (c.contains("id") && c["id"].is_string() && c.contains("function"))
        names[c["id"].get<std::string>()] = c["function"].value("name", std::string());
    if (m.role == "tool" && m.name.empty() && !m.tool_call_id.empty()) {
      auto it = names.find(m.tool_call_id);
      if (it != names.end()) m.name = it->second;
    }
  }
}

}  // namespace allm::server
