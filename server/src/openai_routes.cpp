// The OpenAI API: /v1/models, /v1/chat/completions, /v1/completions — a thin
// adapter from OpenAI's JSON to InferenceRequest and back (docs/server.md).
#include <filesystem>
#include <mutex>
#include <utility>

#include "logprobs_json.hpp"
#include "output_grammar.hpp"
#include "routes.hpp"
#include "tool_replies.hpp"

namespace allm::server {

namespace {

// Content as a string or an array of parts: text, and image_url parts (data:
// URLs; http(s) with --allow-image-urls) which become the message's
// attachments, each placed where it stood among the text parts. Text parts in
// a row are joined by a newline; an image between two keeps them apart.
void openai_content(const json& content, const std::string& where, ImageInputs* images, Message& msg,
                    const std::string& model) {
  std::string& text = msg.content;
  if (content.is_null()) return;
  if (content.is_string()) {
    text = content.get<std::string>();
    return;
  }
  if (!content.is_array()) throw bad_request(where + ".content must be a string or an array of parts", "messages");
  bool after_text = false;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string at = where + ".content[" + std::to_string(i) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw bad_request(at + " must be an object with a 'type'", "messages");
    const std::string type = part["type"].get<std::string>();
    if (type == "text") {
      auto t = opt_string(part, "text");
      if (!t) throw bad_request(at + ".text is missing", "messages");
      if (after_text) text += "\n";
      text += *t;
      after_text = true;
    } else if (type == "image_url" && images) {
      const json* iu = part.contains("image_url") ? &part["image_url"] : nullptr;
      std::string url;
      if (iu && iu->is_string()) url = iu->get<std::string>();  // a shorthand some clients send
      else if (iu && iu->is_object() && iu->contains("url") && (*iu)["url"].is_string()) url = (*iu)["url"].get<std::string>();
      else throw bad_request(at + ".image_url.url is missing", "messages");
      msg.attachments.push_back(images->from_url(url, at + ".image_url.url", "messages"));
      msg.attachment_offsets.push_back(text.size());
      after_text = false;
    } else if (type == "image_url" || type == "input_audio" || type == "file") {
      throw unsupported_param("messages", at + " is of type '" + type + "'; " +
                                              (type == "image_url" && !model.empty() ? text_only_reason(model, false)
                                                                                     : "this route takes text only"));
    } else {
      throw bad_request(at + ": unknown content part type '" + type + "'", "messages");
    }
  }
}


// tool_choice: "auto" | "none" | "required" | {"type": "function", "function": {"name"}}.
ToolChoice openai_tool_choice(const json& body) {
  ToolChoice c;
  c.parallel = opt_bool(body, "parallel_tool_calls").value_or(true);
  if (!body.contains("tool_choice") || body["tool_choice"].is_null()) return c;
  const json& tc = body["tool_choice"];
  if (tc.is_string()) {
    const std::string v = tc.get<std::string>();
    if (v == "auto") return c;
    if (v == "none") c.mode = ToolChoice::none;
    else if (v == "required") c.mode = ToolChoice::required;
    else throw bad_request("'tool_choice' must be \"auto\", \"none\", \"required\" or a function, got \"" + v + "\"", "tool_choice");
    return c;
  }
  if (tc.is_object() && tc.value("type", std::string()) == "function" && tc.contains("function") &&
      tc["function"].is_object() && tc["function"].contains("name") && tc["function"]["name"].is_string()) {
    c.mode = ToolChoice::named;
    c.name = tc["function"]["name"].get<std::string>();
    return c;
  }
  throw bad_request("'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                    "tool_choice");
}

void reject_unsupported(const json& body) {
  if (const json* bias = opt_object(body, "logit_bias"); bias && !bias->empty())
    throw unsupported_param("logit_bias", "per-token logit biases are not applied");
  opt_string(body, "user");  // informational; type-checked only
  opt_bool(body, "cache_prompt");  // the prompt cache is always on
  opt_bool(body, "parallel_tool_calls");
}

std::string finish_of(const GenerateResponse& r, bool called) {
  if (called) return "tool_calls";
  return r.finish_reason == finish_reason::length ? "length" : "stop";
}

json call_json(const tools::ToolCall& c, const std::string& id) {
  return {{"id", id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
}

// Model text is not always whole UTF-8 (a byte-fallback token): replaced, never thrown.
std::string sse(const json& j) { return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"; }

// What the client asked for beyond the prompt: choices, log-probabilities,
// streaming.
struct CompletionShape {
  bool chat = true;
  bool stream = false;
  bool include_usage = false;
  int n = 1;
  std::optional<int> logprobs;  // alternatives per token; unset: no logprobs
};

// n (1..kMaxChoices). Each choice is its own generation: they run in parallel
// slots (batched), choice i with seed + i when a seed is given, so the whole
// answer is reproducible and the choices differ.
constexpr int64_t kMaxChoices = 16;
int read_choices(const json& body) {
  const int64_t n = opt_int(body, "n").value_or(1);
  if (n < 1 || n > kMaxChoices)
    throw bad_request("'n' must be between 1 and " + std::to_string(kMaxChoices) + ", got " + std::to_string(n), "n");
  return static_cast<int>(n);
}

// Chat: logprobs (bool) + top_logprobs (0..20). Completions: logprobs (0..20).
std::optional<int> read_logprobs(const json& body, bool chat) {
  if (chat) {
    const bool on = opt_bool(body, "logprobs").value_or(false);
    auto top = opt_int(body, "top_logprobs");
    if (top && !on) throw bad_request("'top_logprobs' needs 'logprobs': true", "top_logprobs");
    if (top && (*top < 0 || *top > kMaxTopLogprobs))
      throw bad_request("'top_logprobs' must be between 0 and " + std::to_string(kMaxTopLogprobs), "top_logprobs");
    if (!on) return std::nullopt;
    return static_cast<int>(top.value_or(0));
  }
  auto k = opt_int(body, "logprobs");
  if (!k) return std::nullopt;
  if (*k < 0 || *k > kMaxTopLogprobs)
    throw bad_request("'logprobs' must be between 0 and " + std::to_string(kMaxTopLogprobs), "logprobs");
  return static_cast<int>(*k);
}

// The answers of one request's choices, gathered as their jobs finish.
struct ChoiceSet {
  std::mutex mutex;
  std::vector<std::optional<InferenceResult>> results;
  std::vector<size_t> text_sent;  // completions: reply bytes streamed so far (text_offset)
  std::vector<bool> role_sent;
  size_t done = 0;
  bool failed = false, opened = false;
  // To cancel the others when one fails. Their tokens, not the jobs: a job's
  // callbacks hold this set, so holding the jobs here was a reference cycle
  // that leaked every completion request (found by fuzz_server_request).
  std::vector<CancellationToken> cancels;
};

// Runs a chat or text completion (n choices), whole or streamed.
void run_completion(ServerContext& ctx, const std::shared_ptr<Exchange>& ex, InferenceRequest req,
                    const CompletionShape& shape) {
  const bool chat = shape.chat, stream = shape.stream, include_usage = shape.include_usage;
  const std::string id = random_id(chat ? "chatcmpl-" : "cmpl-");
  const int64_t created = unix_time();
  const std::string model_id = req.model->id;
  const std::string fingerprint = "fp_allm";
  const std::string object = chat ? "chat.completion.chunk" : "text_completion";
  auto served = req.model;
  Provider* tokenizer = shape.logprobs ? &inspecting_provider(*served, true) : nullptr;
  req.generate.logprobs = shape.logprobs;
  auto set = std::make_shared<ChoiceSet>();
  set->results.resize(static_cast<size_t>(shape.n));
  set->text_sent.assign(static_cast<size_t>(shape.n), 0);
  set->role_sent.assign(static_cast<size_t>(shape.n), false);
  // Chat replies are split into content, reasoning and tool calls as they
  // stream (tool_replies.hpp), one splitter per choice; completions pass through.
  std::vector<std::shared_ptr<ReplySplitter>> splitters;
  if (chat) {
    const tools::Dialect dialect = reply_dialect(ctx, req);
    const auto calls = stream ? tools::CallEvents::streamed : tools::CallEvents::whole;
    for (int i = 0; i < shape.n; ++i)
      splitters.push_back(std::make_shared<ReplySplitter>(dialect, req.generate.tools, calls));
  }
  auto called = std::make_shared<std::vector<bool>>(static_cast<size_t>(shape.n), false);
  // Streamed: the reply's last call was abandoned (a reply cut off inside a call).
  auto cut_call = std::make_shared<std::vector<bool>>(static_cast<size_t>(shape.n), false);

  auto chunk = [=](size_t index, json choice_delta, const json& finish, json logprobs) {
    json choice = {{"index", index}, {"logprobs", std::move(logprobs)}, {"finish_reason", finish}};
    if (chat)
      choice["delta"] = std::move(choice_delta);
    else
      choice["text"] = choice_delta.value("content", std::string());
    json j = {{"id", id}, {"object", object}, {"created", created}, {"model", model_id},
              {"system_fingerprint", fingerprint}, {"choices", json::array({choice})}};
    if (include_usage) j["usage"] = nullptr;
    return j;
  };
  // Prompt tokens once (every choice has the same prompt), completions summed,
  // cached tokens as the first choice found them.
  auto usage_of = [set] {
    const InferenceResult& first = *set->results[0];
    const Usage& u0 = first.response.usage;
    int64_t completion = 0;
    for (auto& r : set->results) completion += r->response.usage.completion_tokens;
    return json{{"prompt_tokens", u0.prompt_tokens},
                {"completion_tokens", completion},
                {"total_tokens", u0.prompt_tokens + completion},
                {"prompt_tokens_details", {{"cached_tokens", first.cached_tokens}}},
                {"completion_tokens_details", {{"reasoning_tokens", 0}}}};
  };

  // Streams open at the first event (under set->mutex), so errors found
  // before any output (a prompt over the context window) keep their status.
  auto open = [=] {
    if (set->opened) return;
    set->opened = true;
    ex->begin_stream(200, "text/event-stream");
  };
  auto role = [=](size_t index) {  // chat: each choice's first chunk names the role
    if (!chat || set->role_sent[index]) return;
    set->role_sent[index] = true;
    ex->write(sse(chunk(index, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr)));
  };
  auto logprobs_of = [=](const std::vector<TokenLogprob>& lps, size_t offset) -> json {
    if (!tokenizer) return nullptr;
    return chat ? chat_logprobs_json(*tokenizer, lps) : completion_logprobs_json(*tokenizer, lps, offset);
  };
  // A chat choice's split events as chunks; `logprobs` rides on the first.
  auto send_events = [=](size_t index, const std::vector<tools::ReplyEvent>& events, json logprobs) {
    for (const auto& e : events) {
      if (e.kind == tools::ReplyEvent::content) {
        ex->write(sse(chunk(index, {{"content", e.text}}, nullptr, std::exchange(logprobs, nullptr))));
      } else if (e.kind == tools::ReplyEvent::reasoning) {
        ex->write(sse(chunk(index, {{"reasoning_content", e.text}}, nullptr, std::exchange(logprobs, nullptr))));
      } else if (e.kind == tools::ReplyEvent::call_start) {
        // A call's first delta: its id, type and name; then its arguments in pieces.
        ex->write(sse(chunk(index,
                            {{"tool_calls", json::array({{{"index", e.index}, {"id", call_id("call_")}, {"type", "function"},
                                                          {"function", {{"name", e.tool_call.name}, {"arguments", ""}}}}})}},
                            nullptr, std::exchange(logprobs, nullptr))));
      } else if (e.kind == tools::ReplyEvent::call_arguments) {
        ex->write(sse(chunk(index, {{"tool_calls", json::array({{{"index", e.index}, {"function", {{"arguments", e.text}}}}})}},
                            nullptr, std::exchange(logprobs, nullptr))));
      } else if (e.kind == tools::ReplyEvent::call) {
        (*called)[index] = true;  // complete: the reply ends with finish_reason "tool_calls"
        (*cut_call)[index] = false;
      } else if (e.kind == tools::ReplyEvent::call_abandoned) {
        (*cut_call)[index] = true;
      }
      // call_abandoned: OpenAI's stream has no way to end a call; it stays as
      // sent, and its text follows as content (docs/tools.md, "Streaming").
    }
    if (!logprobs.is_null()) ex->write(sse(chunk(index, {{"content", ""}}, nullptr, std::move(logprobs))));
  };

  for (int i = 0; i < shape.n; ++i) {
    const size_t index = static_cast<size_t>(i);
    auto job = std::make_shared<InferenceJob>();
    job->request = req;
    if (i > 0 && req.generate.params.seed && *req.generate.params.seed >= 0)
      job->request.generate.params.seed = *req.generate.params.seed + i;
    job->on_start = [] {};
    job->on_delta = [=](const StreamDelta& d) {
      if (d.text.empty() && d.logprobs.empty()) return;
      if (!d.text.empty()) ex->note_first_token();
      if (!stream) return;
      std::lock_guard lock(set->mutex);
      if (set->failed) return;
      open();
      role(index);
      if (chat)
        send_events(index, d.text.empty() ? std::vector<tools::ReplyEvent>{} : splitters[index]->feed(d.text),
                    d.logprobs.empty() ? json(nullptr) : logprobs_of(d.logprobs, 0));
      else
        ex->write(sse(chunk(index, {{"content", d.text}}, nullptr, logprobs_of(d.logprobs, set->text_sent[index]))));
      set->text_sent[index] += d.text.size();
    };
    job->on_done = [=](const InferenceResult& r) {
      std::lock_guard lock(set->mutex);
      if (set->failed) return;
      set->results[index] = r;
      if (stream) {
        open();
        role(index);
        if (chat) send_events(index, splitters[index]->finish(r.response), nullptr);
        // A reply cut off by max_tokens inside a call that had started
        // streaming ends "length", as OpenAI's does, even after whole calls.
        const bool cut = (*cut_call)[index] && r.response.finish_reason == finish_reason::length;
        ex->write(sse(chunk(index, json::object(), finish_of(r.response, (*called)[index] && !cut), nullptr)));
      }
      if (++set->done < set->results.size()) return;
      int64_t prompt = 0, completion = 0;
      for (auto& c : set->results) completion += c->response.usage.completion_tokens;
      prompt = set->results[0]->response.usage.prompt_tokens;
      ex->note_tokens(prompt, completion, set->results[0]->cached_tokens);
      if (stream) {
        if (include_usage) {
          json u = {{"id", id},           {"object", object},           {"created", created},
                    {"model", model_id},  {"system_fingerprint", fingerprint}, {"choices", json::array()},
                    {"usage", usage_of()}};
          ex->write(sse(u));
        }
        ex->write("data: [DONE]\n\n");
        ex->end_stream();
        return;
      }
      json choices = json::array();
      for (size_t c = 0; c < set->results.size(); ++c) {
        const InferenceResult& res = *set->results[c];
        json choice = {{"index", c}, {"logprobs", logprobs_of(res.response.logprobs, 0)},
                       {"finish_reason", finish_of(res.response, false)}};
        if (chat) {
          const tools::ParsedReply reply = whole_reply(*splitters[c], res.response);
          json message = {{"role", "assistant"}, {"content", reply.content}, {"refusal", nullptr}};
          if (!reply.reasoning.empty()) message["reasoning_content"] = reply.reasoning;
          if (!reply.tool_calls.empty()) {
            json calls = json::array();
            for (const auto& tc : reply.tool_calls) calls.push_back(call_json(tc, call_id("call_")));
            message["tool_calls"] = std::move(calls);
            if (reply.content.empty()) message["content"] = nullptr;
            choice["finish_reason"] = finish_of(res.response, true);
          }
          choice["message"] = std::move(message);
        } else {
          choice["text"] = res.response.text;
        }
        choices.push_back(std::move(choice));
      }
      send_json(*ex, 200,
                {{"id", id}, {"object", chat ? "chat.completion" : "text_completion"}, {"created", created},
                 {"model", model_id}, {"system_fingerprint", fingerprint}, {"choices", choices},
                 {"usage", usage_of()}});
    };
    job->on_error = [=](std::exception_ptr e) {
      std::lock_guard lock(set->mutex);
      if (set->failed) return;
      set->failed = true;  // one failed choice fails the request; the others stop
      for (auto& other : set->cancels) other.cancel();
      const ApiError err = to_api_error(e);
      if (set->opened) {  // mid-stream: an error event, then the end
        ex->write("data: " + error_body(ApiFlavor::openai, err) + "\n\n");
        ex->write("data: [DONE]\n\n");
        ex->end_stream();
      } else {
        send_error(*ex, ApiFlavor::openai, err);
      }
    };
    {
      std::lock_guard lock(set->mutex);
      set->cancels.push_back(job->cancel);
    }
    try {
      submit_job(ctx, *ex, job);
    } catch (...) {  // the queue is full: the choices already queued are cancelled
      std::lock_guard lock(set->mutex);
      set->failed = true;
      for (auto& other : set->cancels) other.cancel();
      if (i == 0) throw;
      send_error(*ex, ApiFlavor::openai, to_api_error(std::current_exception()));
      return;
    }
  }
}

CompletionShape completion_shape(const json& body, bool chat) {
  CompletionShape shape;
  shape.chat = chat;
  shape.stream = opt_bool(body, "stream").value_or(false);
  if (const json* so = opt_object(body, "stream_options"))
    shape.include_usage = opt_bool(*so, "include_usage").value_or(false);
  shape.n = read_choices(body);
  shape.logprobs = read_logprobs(body, chat);
  return shape;
}

void chat_completions(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const json body = request_json(ctx, *ex);
  reject_unsupported(body);
  InferenceRequest req;
  req.model = ctx.models.find(opt_string(body, "model").value_or(""));
  if (req.model->caps.vision)
    req.images = std::make_shared<ImageInputs>(ctx.options.allow_image_urls, MediaLimits{}.max_file_bytes);
  req.generate.messages = openai_messages(body, req.images.get(), req.model->id);
  req.generate.params = read_sampling(body);
  req.generate.grammar = openai_output_grammar(body, ex->request().body);
  if (const json* tools = opt_array(body, "tools")) req.generate.tools = *tools;
  apply_tool_choice(ctx, req, openai_tool_choice(body));
  cap_max_tokens(req.generate.params, *req.model);
  run_completion(ctx, ex, std::move(req), completion_shape(body, true));
}

void completions(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const json body = request_json(ctx, *ex);
  reject_unsupported(body);
  if (auto echo = opt_bool(body, "echo"); echo && *echo) throw unsupported_param("echo", "the prompt is not echoed");
  if (auto suffix = opt_string(body, "suffix"); suffix && !suffix->empty())
    throw unsupported_param("suffix", "fill-in-the-middle is not available (send the prefix as the prompt)");
  if (auto best = opt_int(body, "best_of"); best && *best != 1) throw unsupported_param("best_of", "one candidate");
  InferenceRequest req;
  req.model = ctx.models.find(opt_string(body, "model").value_or(""));
  req.raw = true;
  const json& prompt = body.contains("prompt") ? body["prompt"] : json(nullptr);
  if (prompt.is_string()) {
    req.generate.prompt = prompt.get<std::string>();
  } else if (prompt.is_array() && prompt.size() == 1 && prompt[0].is_string()) {
    req.generate.prompt = prompt[0].get<std::string>();
  } else if (prompt.is_array() && !prompt.empty() && prompt[0].is_number_integer()) {
    throw unsupported_param("prompt", "token-id prompts are not accepted; send text");
  } else if (prompt.is_array() && prompt.size() > 1) {
    throw unsupported_param("prompt", "one prompt per request (got " + std::to_string(prompt.size()) + ")");
  } else {
    throw bad_request("'prompt' is required and must be a string", "prompt");
  }
  req.generate.params = read_sampling(body);
  req.generate.grammar = openai_output_grammar(body, ex->request().body);
  cap_max_tokens(req.generate.params, *req.model);
  run_completion(ctx, ex, std::move(req), completion_shape(body, false));
}

json model_json(const ServedModel& m) {
  json j = {{"id", m.id},
            {"object", "model"},
            {"created", std::chrono::duration_cast<std::chrono::seconds>(m.loaded_at.time_since_epoch()).count()},
            {"owned_by", "allm"}};
  // What the chat page (and other clients) read to offer image input.
  if (m.caps.vision) j["capabilities"] = json::array({"vision"});
  return j;
}

}  // namespace

std::vector<Message> openai_messages(const json& body, ImageInputs* images, const std::string& model) {
  const json* msgs = opt_array(body, "messages");
  if (!msgs) throw bad_request("'messages' is required", "messages");
  if (msgs->empty()) throw bad_request("'messages' must not be empty", "messages");
  std::vector<Message> out;
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw bad_request(where + " must be an object", "messages");
    auto role = opt_string(m, "role");
    if (!role) throw bad_request(where + ".role is required", "messages");
    if (*role == "developer") role = "system";
    if (*role != "system" && *role != "user" && *role != "assistant" && *role != "tool")
      throw bad_request(where + ".role: unknown role '" + *role + "'", "messages");
    Message msg;
    msg.role = *role;
    openai_content(m.contains("content") ? m["content"] : json(nullptr), where, images, msg, model);
    // Earlier tool calls and their results go back through the chat template.
    if (const json* calls = opt_array(m, "tool_calls")) {
      if (msg.role != "assistant") throw bad_request(where + ".tool_calls: only assistant messages have tool calls", "messages");
      for (size_t k = 0; k < calls->size(); ++k) {
        const json& c = (*calls)[k];
        if (!c.is_object() || !c.contains("function") || !c["function"].is_object() ||
            !c["function"].contains("name") || !c["function"]["name"].is_string())
          throw bad_request(where + ".tool_calls[" + std::to_string(k) + "] must be {id, type: function, function: {name, arguments}}",
                            "messages");
      }
      msg.tool_calls = *calls;
    }
    if (msg.role == "tool") {
      msg.tool_call_id = opt_string(m, "tool_call_id").value_or("");
      msg.name = opt_string(m, "name").value_or("");
    }
    out.push_back(std::move(msg));
  }
  name_tool_results(out);
  return out;
}

GenerationParams read_sampling(const json& j) {
  GenerationParams p;
  p.temperature = opt_number(j, "temperature");
  p.top_p = opt_number(j, "top_p");
  p.min_p = opt_number(j, "min_p");
  p.presence_penalty = opt_number(j, "presence_penalty");
  p.frequency_penalty = opt_number(j, "frequency_penalty");
  p.repetition_penalty = opt_number(j, "repeat_penalty");
  if (auto k = opt_int(j, "top_k")) {
    if (*k < 0 || *k > INT32_MAX) throw bad_request("'top_k' must be between 0 and 2147483647", "top_k");
    p.top_k = static_cast<int>(*k);
  }
  if (auto s = opt_int(j, "seed")) p.seed = *s < 0 ? -1 : *s;
  auto max = opt_token_count(j, "max_completion_tokens");
  if (!max) max = opt_token_count(j, "max_tokens");
  if (!max) max = opt_token_count(j, "num_predict");
  p.max_tokens = max;
  p.stop = opt_strings(j, "stop");
  if (p.stop && p.stop->empty()) p.stop.reset();
  if (auto ie = opt_bool(j, "ignore_eos")) p.ignore_eos = *ie;
  validate_params(p);
  return p;
}

bool openai_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const auto& r = ex->request();
  if (r.method == "GET" && r.path == "/v1/models") {
    ex->note_route("/v1/models");
    json data = json::array();
    for (auto& m : ctx.models.list()) data.push_back(model_json(*m));
    send_json(*ex, 200, {{"object", "list"}, {"data", data}});
    return true;
  }
  if (r.method == "GET" && r.path.rfind("/v1/models/", 0) == 0) {
    ex->note_route("/v1/models/{id}");
    const std::string name = r.path.substr(std::string("/v1/models/").size());
    for (auto& m : ctx.models.list())
      if (m->id == name || m->spec == name) {
        send_json(*ex, 200, model_json(*m));
        return true;
      }
    throw ApiError(404, "not_found", "the model '" + name + "' is not served here", "model");
  }
  if (r.method == "POST" && r.path == "/v1/chat/completions") {
    ex->note_route("/v1/chat/completions");
    chat_completions(ctx, ex);
    return true;
  }
  if (r.method == "POST" && r.path == "/v1/completions") {
    ex->note_route("/v1/completions");
    completions(ctx, ex);
    return true;
  }
  return false;
}

}  // namespace allm::server
