// The Anthropic Messages API: /v1/messages (also ?beta=true) and
// /v1/messages/count_tokens — a thin adapter onto InferenceRequest.
#include <filesystem>
#include "routes.hpp"
#include "tool_replies.hpp"

namespace allm::server {

namespace {

// A block list's text; tool calls and results stay in the conversation as text.
// Text blocks in a row are joined by a newline; image blocks (base64, or a URL
// source) become `attachments` when `images` is given, each with its place in
// the text (`offsets`: an image between two text blocks keeps them apart), and
// are refused otherwise.
std::string blocks_text(const json& content, const std::string& where, ImageInputs* images = nullptr,
                        std::vector<std::filesystem::path>* attachments = nullptr, const std::string& model = {},
                        std::vector<size_t>* offsets = nullptr) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) throw bad_request(where + " must be a string or an array of content blocks");
  std::string text;
  bool after_text = false;
  auto append = [&](const std::string& t) {
    if (t.empty()) return;
    if (after_text) text += "\n";
    text += t;
    after_text = true;
  };
  for (size_t i = 0; i < content.size(); ++i) {
    const json& b = content[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!b.is_object() || !b.contains("type") || !b["type"].is_string())
      throw bad_request(at + " must be a content block object with a 'type'");
    const std::string type = b["type"].get<std::string>();
    if (type == "text") {
      auto t = opt_string(b, "text");
      if (!t) throw bad_request(at + ".text is missing");
      append(*t);
    } else if (type == "tool_use" || type == "tool_result") {
      // Read by tool_blocks: calls and results are messages of their own.
    } else if (type == "thinking" || type == "redacted_thinking") {
      // Earlier turns' reasoning is not shown to the model again (as Anthropic does).
    } else if (type == "image" && images && attachments && offsets) {
      const json* src = b.contains("source") && b["source"].is_object() ? &b["source"] : nullptr;
      const std::string kind = src ? src->value("type", std::string()) : std::string();
      if (kind == "base64" && src->contains("data") && (*src)["data"].is_string()) {
        attachments->push_back(images->from_base64((*src)["data"].get<std::string>(), at + ".source.data", "messages"));
      } else if (kind == "url" && src->contains("url") && (*src)["url"].is_string()) {
        attachments->push_back(images->from_url((*src)["url"].get<std::string>(), at + ".source.url", "messages"));
      } else {
        throw bad_request(at + ".source: expected {\"type\": \"base64\", \"media_type\", \"data\"} or "
                          "{\"type\": \"url\", \"url\"}");
      }
      offsets->push_back(text.size());
      after_text = false;
    } else if (type == "image" || type == "document") {
      throw unsupported_param("messages", at + " is a '" + type + "' block; " +
                                              (type == "image" && !model.empty() ? text_only_reason(model, false)
                                                                                 : "this server's models take text only"));
    } else {
      throw bad_request(at + ": unknown content block type '" + type + "'");
    }
  }
  return text;
}

struct ParsedMessages {
  std::vector<Message> messages;
  std::optional<std::string> system;
};

// A message's tool_use blocks (assistant) and tool_result blocks (user), taken
// out of its text so they go through the chat template as calls and results.
struct ToolBlocks {
  json calls = json::array();
  std::vector<Message> results;
};
ToolBlocks tool_blocks(const json& content, const std::string& where) {
  ToolBlocks out;
  if (!content.is_array()) return out;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& b = content[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!b.is_object() || !b.contains("type") || !b["type"].is_string()) continue;
    const std::string type = b["type"].get<std::string>();
    if (type == "tool_use") {
      if (!b.contains("name") || !b["name"].is_string()) throw bad_request(at + ".name: field required");
      json input = b.contains("input") ? b["input"] : json::object();
      if (!input.is_object()) throw bad_request(at + ".input: must be an object");
      out.calls.push_back({{"id", b.value("id", std::string())}, {"type", "function"},
                           {"function", {{"name", b["name"]}, {"arguments", input}}}});
    } else if (type == "tool_result") {
      const json& c = b.contains("content") ? b["content"] : json("");
      Message m("tool", c.is_null() ? std::string() : blocks_text(c, at + ".content"));
      if (b.value("is_error", false)) m.content = "Error: " + m.content;
      m.tool_call_id = b.value("tool_use_id", std::string());
      out.results.push_back(std::move(m));
    }
  }
  return out;
}

ParsedMessages anthropic_messages(const json& body, ImageInputs* images, const std::string& model) {
  ParsedMessages out;
  if (body.contains("system") && !body["system"].is_null()) out.system = blocks_text(body["system"], "system");
  const json* msgs = opt_array(body, "messages");
  if (!msgs) throw bad_request("messages: field required");
  if (msgs->empty()) throw bad_request("messages: at least one message is required");
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string where = "messages." + std::to_string(i);
    if (!m.is_object()) throw bad_request(where + ": must be an object");
    auto role = opt_string(m, "role");
    if (!role || (*role != "user" && *role != "assistant" && *role != "system"))
      throw bad_request(where + ".role: must be 'user' or 'assistant'");
    if (!m.contains("content")) throw bad_request(where + ".content: field required");
    std::vector<std::filesystem::path> attachments;
    std::vector<size_t> offsets;
    std::string text = blocks_text(m["content"], where + ".content", images, &attachments, model, &offsets);
    if (*role == "system") {  // Claude Code sends system turns inside messages
      if (out.messages.empty() && !out.system) {
        out.system = text;
        continue;
      }
    }
    ToolBlocks tb = tool_blocks(m["content"], where + ".content");
    if (!tb.calls.empty() && *role != "assistant") throw bad_request(where + ": tool_use blocks belong to assistant turns");
    if (!tb.results.empty() && *role != "user") throw bad_request(where + ": tool_result blocks belong to user turns");
    // Results answer the previous turn's calls: they come first, then any text.
    for (auto& r : tb.results) out.messages.push_back(std::move(r));
    if (!tb.results.empty() && text.empty() && attachments.empty()) continue;
    Message msg(*role, std::move(text), std::move(attachments));
    msg.attachment_offsets = std::move(offsets);
    msg.tool_calls = std::move(tb.calls);
    out.messages.push_back(std::move(msg));
  }
  name_tool_results(out.messages);
  if (out.system && !out.messages.empty() && out.messages.front().role == "system") {
    out.messages.front().content = *out.system + "\n" + out.messages.front().content;
    out.system.reset();
  }
  return out;
}

// Anthropic tools -> the OpenAI-style function specs chat templates render.
json anthropic_tools(const json& body) {
  json tools = json::array();
  const json* t = opt_array(body, "tools");
  if (!t) return tools;
  for (size_t i = 0; i < t->size(); ++i) {
    const json& tool = (*t)[i];
    if (!tool.is_object() || !tool.contains("name") || !tool["name"].is_string())
      throw bad_request("tools." + std::to_string(i) + ".name: field required");
    tools.push_back({{"type", "function"},
                     {"function",
                      {{"name", tool["name"]},
                       {"description", tool.value("description", std::string())},
                       {"parameters", tool.value("input_schema", json::object())}}}});
  }
  return tools;
}

InferenceRequest anthropic_request(ServerContext& ctx, const json& body, bool need_max_tokens) {
  InferenceRequest req;
  req.model = ctx.models.find(opt_string(body, "model").value_or(""));
  if (req.model->caps.vision)
    req.images = std::make_shared<ImageInputs>(ctx.options.allow_image_urls, MediaLimits{}.max_file_bytes);
  ParsedMessages pm = anthropic_messages(body, req.images.get(), req.model->id);
  req.generate.messages = std::move(pm.messages);
  req.generate.system_prompt = pm.system;
  req.generate.tools = anthropic_tools(body);
  ToolChoice choice;
  if (const json* tc = opt_object(body, "tool_choice")) {
    // {"type": "auto" | "any" | "tool" (with "name") | "none", "disable_parallel_tool_use"}
    const std::string type = opt_string(*tc, "type").value_or("auto");
    choice.parallel = !opt_bool(*tc, "disable_parallel_tool_use").value_or(false);
    if (type == "none") choice.mode = ToolChoice::none;
    else if (type == "any") choice.mode = ToolChoice::required;
    else if (type == "tool") {
      auto name = opt_string(*tc, "name");
      if (!name) throw bad_request("tool_choice.name: field required");
      choice.mode = ToolChoice::named;
      choice.name = *name;
    } else if (type != "auto") {
      throw bad_request("tool_choice.type: must be 'auto', 'any', 'tool' or 'none', got '" + type + "'");
    }
  }
  apply_tool_choice(ctx, req, choice);
  if (const json* th = opt_object(body, "thinking")) {
    if (opt_string(*th, "type").value_or("disabled") != "disabled")
      throw unsupported_param("thinking", "extended thinking budgets are not available");
  }
  GenerationParams& p = req.generate.params;
  p.temperature = opt_number(body, "temperature");
  p.top_p = opt_number(body, "top_p");
  if (auto k = opt_int(body, "top_k")) {
    if (*k < 0 || *k > INT32_MAX) throw bad_request("top_k: must be a non-negative integer");
    p.top_k = static_cast<int>(*k);
  }
  // llama.cpp's server takes its sampling extensions on every route; so does this one.
  p.min_p = opt_number(body, "min_p");
  p.repetition_penalty = opt_number(body, "repeat_penalty");
  p.presence_penalty = opt_number(body, "presence_penalty");
  p.frequency_penalty = opt_number(body, "frequency_penalty");
  if (auto s = opt_int(body, "seed")) p.seed = *s < 0 ? -1 : *s;  // their ranges: validate_params below
  p.max_tokens = opt_token_count(body, "max_tokens");
  if (need_max_tokens && !p.max_tokens) throw bad_request("max_tokens: field required");
  p.stop = opt_strings(body, "stop_sequences");
  if (p.stop && p.stop->empty()) p.stop.reset();
  if (p.temperature && (*p.temperature < 0 || *p.temperature > 1))
    throw bad_request("temperature: must be between 0 and 1");
  validate_params(p);
  cap_max_tokens(p, *req.model);
  return req;
}

std::string stop_reason_of(const InferenceResult& r, bool called) {
  if (called) return "tool_use";
  if (r.response.finish_reason == finish_reason::length) return "max_tokens";
  if (!r.stop_sequence.empty()) return "stop_sequence";
  return "end_turn";
}

json usage_of(const InferenceResult& r) {
  return {{"input_tokens", r.response.usage.prompt_tokens - r.cached_tokens},
          {"output_tokens", r.response.usage.completion_tokens},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", r.cached_tokens}};
}

std::string event(const char* name, const json& data) {
  return std::string("event: ") + name + "\ndata: " + data.dump(-1, ' ', false, json::error_handler_t::replace) +
         "\n\n";
}

void messages(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const json body = request_json(ctx, *ex);
  InferenceRequest req = anthropic_request(ctx, body, true);
  const bool stream = opt_bool(body, "stream").value_or(false);
  const std::string id = random_id("msg_");
  const std::string model_id = req.model->id;
  int64_t input_estimate = 0;
  if (stream && req.model->caps.model_info.value("prompt_inspection", false))
    input_estimate = static_cast<int64_t>(req.model->chat->preview_prompt(req.generate).ids.size());

  auto job = std::make_shared<InferenceJob>();
  job->request = std::move(req);
  auto opened = std::make_shared<bool>(false);
  auto open = [=] {
    if (*opened) return;
    *opened = true;
    ex->begin_stream(200, "text/event-stream");
    ex->write(event("message_start",
                    {{"type", "message_start"},
                     {"message",
                      {{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", model_id},
                       {"content", json::array()}, {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                       {"usage",
                        {{"input_tokens", input_estimate}, {"output_tokens", 0},
                         {"cache_creation_input_tokens", 0}, {"cache_read_input_tokens", 0}}}}}}));
    ex->write(event("ping", {{"type", "ping"}}));
  };
  // Content blocks open as the reply needs them: thinking, text, one
  // tool_use per call (its input in input_json_delta pieces as it is written).
  auto splitter = std::make_shared<ReplySplitter>(ctx, job->request,
                                                  stream ? tools::CallEvents::streamed : tools::CallEvents::whole);
  struct Blocks {
    int next = 0;            // index of the next block
    std::string open_type;   // the block being written ("" none)
    size_t open_call = 0;    // open_type "tool_use": the call it holds
    bool called = false;
    bool cut_call = false;   // the last call was abandoned (a reply cut off inside it)
  };
  auto blocks = std::make_shared<Blocks>();
  auto close_block = [=] {
    if (blocks->open_type.empty()) return;
    ex->write(event("content_block_stop", {{"type", "content_block_stop"}, {"index", blocks->next - 1}}));
    blocks->open_type.clear();
  };
  auto start_block = [=](const std::string& type, const json& block) {
    close_block();
    ex->write(event("content_block_start",
                    {{"type", "content_block_start"}, {"index", blocks->next}, {"content_block", block}}));
    blocks->open_type = type;
    ++blocks->next;
  };
  auto send_events = [=](const std::vector<tools::ReplyEvent>& events) {
    for (const auto& e : events) {
      if (e.kind == tools::ReplyEvent::call_start) {
        start_block("tool_use", {{"type", "tool_use"}, {"id", call_id("toolu_")}, {"name", e.tool_call.name},
                                 {"input", json::object()}});
        blocks->open_call = e.index;
        continue;
      }
      if (e.kind == tools::ReplyEvent::call_arguments) {
        // The parser sends all of a call's pieces before the next call
        // starts, so the open block is this call's.
        ex->write(event("content_block_delta",
                        {{"type", "content_block_delta"}, {"index", blocks->next - 1},
                         {"delta", {{"type", "input_json_delta"}, {"partial_json", e.text}}}}));
        continue;
      }
      if (e.kind == tools::ReplyEvent::call || e.kind == tools::ReplyEvent::call_abandoned) {
        // Complete, or abandoned (its input stays as sent; its text follows as text).
        // A call of several in one region completes once all are read: its
        // block was closed when the next one started.
        if (e.kind == tools::ReplyEvent::call) blocks->called = true;
        blocks->cut_call = e.kind == tools::ReplyEvent::call_abandoned;
        if (blocks->open_type == "tool_use" && blocks->open_call == e.index) close_block();
        continue;
      }
      const bool thinking = e.kind == tools::ReplyEvent::reasoning;
      const std::string type = thinking ? "thinking" : "text";
      if (blocks->open_type != type)
        start_block(type, thinking ? json{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}
                                   : json{{"type", "text"}, {"text", ""}});
      ex->write(event("content_block_delta",
                      {{"type", "content_block_delta"}, {"index", blocks->next - 1},
                       {"delta", thinking ? json{{"type", "thinking_delta"}, {"thinking", e.text}}
                                          : json{{"type", "text_delta"}, {"text", e.text}}}}));
    }
  };
  job->on_delta = [=](const StreamDelta& d) {
    if (d.text.empty()) return;
    ex->note_first_token();
    if (!stream) return;
    open();
    send_events(splitter->feed(d.text));
  };
  job->on_done = [=](const InferenceResult& r) {
    ex->note_tokens(r.response.usage.prompt_tokens, r.response.usage.completion_tokens, r.cached_tokens);
    const json stop_seq = r.stop_sequence.empty() ? json(nullptr) : json(r.stop_sequence);
    if (stream) {
      open();
      send_events(splitter->finish(r.response));
      if (blocks->next == 0) start_block("text", {{"type", "text"}, {"text", ""}});  // a reply has a block
      close_block();
      ex->write(event("message_delta",
                      {{"type", "message_delta"},
                       // Cut off by max_tokens inside a started call: max_tokens, even after whole calls.
                       {"delta", {{"stop_reason", stop_reason_of(r, blocks->called && !(blocks->cut_call &&
                                                      r.response.finish_reason == finish_reason::length))},
                                  {"stop_sequence", stop_seq}}},
                       {"usage", usage_of(r)}}));
      ex->write(event("message_stop", {{"type", "message_stop"}}));
      ex->end_stream();
      return;
    }
    const tools::ParsedReply reply = whole_reply(*splitter, r.response);
    json content = json::array();
    if (!reply.reasoning.empty())
      content.push_back({{"type", "thinking"}, {"thinking", reply.reasoning}, {"signature", ""}});
    if (!reply.content.empty() || reply.tool_calls.empty()) content.push_back({{"type", "text"}, {"text", reply.content}});
    for (const auto& c : reply.tool_calls) {
      json input;
      try {
        input = json::parse(c.arguments);
      } catch (const json::exception&) {
        input = json::object();  // the parser only reports calls whose arguments are an object
      }
      content.push_back({{"type", "tool_use"}, {"id", call_id("toolu_")}, {"name", c.name}, {"input", input}});
    }
    send_json(*ex, 200,
              {{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", model_id}, {"content", content},
               {"stop_reason", stop_reason_of(r, !reply.tool_calls.empty())}, {"stop_sequence", stop_seq},
               {"usage", usage_of(r)}});
  };
  job->on_error = [=](std::exception_ptr e) {
    const ApiError err = to_api_error(e);
    if (*opened) {
      ex->write("event: error\ndata: " + error_body(ApiFlavor::anthropic, err) + "\n\n");
      ex->end_stream();
    } else {
      send_error(*ex, ApiFlavor::anthropic, err);
    }
  };
  submit_job(ctx, *ex, job);
}

void count_tokens(ServerContext& ctx, Exchange& ex) {
  const json body = request_json(ctx, ex);
  InferenceRequest req = anthropic_request(ctx, body, false);
  Provider& p = inspecting_provider(*req.model, false);
  ex.note_model(req.model->id);
  send_json(ex, 200, {{"input_tokens", p.preview_prompt(req.generate).ids.size()}});
}

}  // namespace

bool anthropic_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const auto& r = ex->request();
  if (r.method == "POST" && r.path == "/v1/messages") {
    ex->note_route("/v1/messages");
    messages(ctx, ex);
    return true;
  }
  if (r.method == "POST" && r.path == "/v1/messages/count_tokens") {
    ex->note_route("/v1/messages/count_tokens");
    count_tokens(ctx, *ex);
    return true;
  }
  return false;
}

}  // namespace allm::server
