// The OpenAI API: /v1/models, /v1/chat/completions, /v1/completions — a thin
// adapter from OpenAI's JSON to InferenceRequest and back (docs/server.md).
#include <mutex>

#include "output_grammar.hpp"
#include "routes.hpp"

namespace allm::server {

namespace {

// Content as a string or an array of parts; only text parts are accepted.
std::string openai_content(const json& content, const std::string& where) {
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) throw bad_request(where + ".content must be a string or an array of parts", "messages");
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string at = where + ".content[" + std::to_string(i) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw bad_request(at + " must be an object with a 'type'", "messages");
    const std::string type = part["type"].get<std::string>();
    if (type == "text") {
      auto t = opt_string(part, "text");
      if (!t) throw bad_request(at + ".text is missing", "messages");
      if (!text.empty()) text += "\n";
      text += *t;
    } else if (type == "image_url" || type == "input_audio" || type == "file") {
      throw unsupported_param("messages", at + " is of type '" + type + "'; this server's models take text only");
    } else {
      throw bad_request(at + ": unknown content part type '" + type + "'", "messages");
    }
  }
  return text;
}

std::vector<Message> openai_messages(const json& body) {
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
    msg.content = openai_content(m.contains("content") ? m["content"] : json(nullptr), where);
    // Earlier tool calls stay in the conversation as their JSON text.
    if (const json* calls = opt_array(m, "tool_calls"))
      for (auto& c : *calls) {
        if (!msg.content.empty()) msg.content += '\n';
        msg.content += c.dump();
      }
    out.push_back(std::move(msg));
  }
  return out;
}

void reject_unsupported(const json& body) {
  if (auto n = opt_int(body, "n"); n && *n != 1)
    throw unsupported_param("n", "one choice per request (send n requests)");
  if (body.contains("logprobs") && !body["logprobs"].is_null()) {
    const json& l = body["logprobs"];
    if (!(l.is_boolean() && !l.get<bool>()))
      throw unsupported_param("logprobs", "token log-probabilities are not reported");
  }
  if (body.contains("top_logprobs") && !body["top_logprobs"].is_null())
    throw unsupported_param("top_logprobs", "token log-probabilities are not reported");
  if (const json* bias = opt_object(body, "logit_bias"); bias && !bias->empty())
    throw unsupported_param("logit_bias", "per-token logit biases are not applied");
  if (body.contains("tool_choice") && !body["tool_choice"].is_null()) {
    const json& tc = body["tool_choice"];
    if (!(tc.is_string() && (tc == "auto" || tc == "none")))
      throw unsupported_param("tool_choice", "only \"auto\" and \"none\" (forcing a tool call is not available)");
  }
  opt_string(body, "user");  // informational; type-checked only
  opt_bool(body, "cache_prompt");  // the prompt cache is always on
  opt_bool(body, "parallel_tool_calls");
}

json usage_json(const InferenceResult& r) {
  const Usage& u = r.response.usage;
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.total_tokens},
          {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}},
          {"completion_tokens_details", {{"reasoning_tokens", 0}}}};
}

std::string finish_of(const GenerateResponse& r) {
  return r.finish_reason == finish_reason::length ? "length" : "stop";
}

std::string sse(const json& j) { return "data: " + j.dump() + "\n\n"; }

// Runs one chat or text completion, whole or streamed.
void run_completion(ServerContext& ctx, const std::shared_ptr<Exchange>& ex, InferenceRequest req, bool chat,
                    bool stream, bool include_usage) {
  auto job = std::make_shared<InferenceJob>();
  job->request = std::move(req);
  const std::string id = random_id(chat ? "chatcmpl-" : "cmpl-");
  const int64_t created = unix_time();
  const std::string model_id = job->request.model->id;
  const std::string fingerprint = "fp_allm";
  const std::string object = chat ? "chat.completion.chunk" : "text_completion";

  auto chunk = [=](json choice_delta, const json& finish) {
    json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}};
    if (chat)
      choice["delta"] = std::move(choice_delta);
    else
      choice["text"] = choice_delta.value("content", std::string());
    json j = {{"id", id}, {"object", object}, {"created", created}, {"model", model_id},
              {"system_fingerprint", fingerprint}, {"choices", json::array({choice})}};
    if (include_usage) j["usage"] = nullptr;
    return j;
  };

  // Streams open at the first event, so errors found before any output (a
  // prompt over the context window) still get their HTTP status.
  auto opened = std::make_shared<bool>(false);
  auto open = [=] {
    if (*opened) return;
    *opened = true;
    ex->begin_stream(200, "text/event-stream");
    if (chat) ex->write(sse(chunk({{"role", "assistant"}, {"content", ""}}, nullptr)));
  };
  job->on_start = [] {};
  job->on_delta = [=](const StreamDelta& d) {
    if (d.text.empty()) return;
    ex->note_first_token();
    if (!stream) return;
    open();
    ex->write(sse(chunk({{"content", d.text}}, nullptr)));
  };
  job->on_done = [=](const InferenceResult& r) {
    ex->note_tokens(r.response.usage.prompt_tokens, r.response.usage.completion_tokens, r.cached_tokens);
    if (stream) {
      open();
      ex->write(sse(chunk(json::object(), finish_of(r.response))));
      if (include_usage) {
        json u = {{"id", id},           {"object", object},           {"created", created},
                  {"model", model_id},  {"system_fingerprint", fingerprint}, {"choices", json::array()},
                  {"usage", usage_json(r)}};
        ex->write(sse(u));
      }
      ex->write("data: [DONE]\n\n");
      ex->end_stream();
      return;
    }
    json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish_of(r.response)}};
    if (chat)
      choice["message"] = {{"role", "assistant"}, {"content", r.response.text}, {"refusal", nullptr}};
    else
      choice["text"] = r.response.text;
    send_json(*ex, 200,
              {{"id", id}, {"object", chat ? "chat.completion" : "text_completion"}, {"created", created},
               {"model", model_id}, {"system_fingerprint", fingerprint}, {"choices", json::array({choice})},
               {"usage", usage_json(r)}});
  };
  job->on_error = [=](std::exception_ptr e) {
    const ApiError err = to_api_error(e);
    if (*opened) {  // mid-stream: an error event, then the end
      ex->write("data: " + error_body(ApiFlavor::openai, err) + "\n\n");
      ex->write("data: [DONE]\n\n");
      ex->end_stream();
    } else {
      send_error(*ex, ApiFlavor::openai, err);
    }
  };
  submit_job(ctx, *ex, job);
}

void chat_completions(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const json body = request_json(ctx, *ex);
  reject_unsupported(body);
  InferenceRequest req;
  req.model = ctx.models.find(opt_string(body, "model").value_or(""));
  req.generate.messages = openai_messages(body);
  req.generate.params = read_sampling(body);
  req.generate.grammar = openai_output_grammar(body, ex->request().body);
  if (const json* tools = opt_array(body, "tools")) {
    if (!(body.contains("tool_choice") && body["tool_choice"] == "none")) req.generate.tools = *tools;
  }
  cap_max_tokens(req.generate.params, *req.model);
  const bool stream = opt_bool(body, "stream").value_or(false);
  bool include_usage = false;
  if (const json* so = opt_object(body, "stream_options")) include_usage = opt_bool(*so, "include_usage").value_or(false);
  run_completion(ctx, ex, std::move(req), true, stream, include_usage);
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
  const bool stream = opt_bool(body, "stream").value_or(false);
  bool include_usage = false;
  if (const json* so = opt_object(body, "stream_options")) include_usage = opt_bool(*so, "include_usage").value_or(false);
  run_completion(ctx, ex, std::move(req), false, stream, include_usage);
}

json model_json(const ServedModel& m) {
  return {{"id", m.id},
          {"object", "model"},
          {"created", std::chrono::duration_cast<std::chrono::seconds>(m.loaded_at.time_since_epoch()).count()},
          {"owned_by", "allm"}};
}

}  // namespace

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
