// The Ollama API: /api/chat, /api/generate (NDJSON streams), /api/tags,
// /api/show, /api/ps, /api/version — a thin adapter onto InferenceRequest.
#include <filesystem>
#include <set>

#include "logprobs_json.hpp"
#include "output_grammar.hpp"
#include "routes.hpp"
#include "tool_replies.hpp"

namespace allm::server {

namespace {

// Ollama's options use llama.cpp names; hardware knobs are about where the
// model runs, not what it writes, and are accepted as such.
GenerationParams ollama_options(const json& body, const ServedModel& model) {
  const json* o = opt_object(body, "options");
  static const std::set<std::string> known = {
      "num_predict", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "repeat_penalty",
      "presence_penalty", "frequency_penalty", "num_ctx", "num_thread", "num_gpu", "main_gpu", "use_mmap",
      "use_mlock", "num_batch", "low_vram", "numa", "num_keep", "mirostat", "mirostat_tau", "mirostat_eta",
      "typical_p", "tfs_z", "repeat_last_n", "penalize_newline"};
  GenerationParams p;
  if (!o) return p;
  for (auto it = o->begin(); it != o->end(); ++it)
    if (!known.count(it.key())) throw bad_request("unknown option '" + it.key() + "' in 'options'", it.key());
  if (auto m = opt_int(*o, "mirostat"); m && *m != 0) throw unsupported_param("mirostat", "Mirostat sampling is not available");
  if (auto t = opt_number(*o, "typical_p"); t && *t != 1) throw unsupported_param("typical_p", "typical sampling is not available");
  if (auto t = opt_number(*o, "tfs_z"); t && *t != 1) throw unsupported_param("tfs_z", "tail-free sampling is not available");
  json sampling = *o;
  sampling.erase("num_predict");
  p = read_sampling(sampling);
  if (auto n = opt_int(*o, "num_predict"); n && *n > 0) p.max_tokens = static_cast<int>(std::min<int64_t>(*n, INT32_MAX));
  // num_ctx narrows the window for this request: the reply may use what the prompt leaves of it.
  if (auto ctx = opt_int(*o, "num_ctx")) {
    if (*ctx < 1) throw bad_request("'num_ctx' must be positive", "num_ctx");
    const int64_t cap = std::min<int64_t>(*ctx, model.context_length() > 0 ? model.context_length() : *ctx);
    if (!p.max_tokens || *p.max_tokens > cap) p.max_tokens = static_cast<int>(cap);
  }
  return p;
}

// think: true asks for the reasoning apart ("thinking"), which a model with
// reasoning tags always gets; false cannot switch a model's thinking off.
void check_think(const ServerContext& ctx, const json& body, const ServedModel& model) {
  if (!body.contains("think") || body["think"].is_null()) return;
  const json& t = body["think"];
  if (!t.is_boolean()) throw unsupported_param("think", "only true or false (thinking levels are not available)");
  if (t.get<bool>() && model_dialect(ctx, model).think_open.empty())
    throw bad_request("'" + model.id + "' does not support thinking", "think");
}

int64_t ns(double ms) { return static_cast<int64_t>(ms * 1e6); }

json stats_json(const GenerateResponse& r, double total_ms) {
  return {{"total_duration", ns(total_ms)},
          {"load_duration", ns(r.timings.load_ms)},
          {"prompt_eval_count", r.usage.prompt_tokens},
          {"prompt_eval_duration", ns(r.timings.prompt_ms)},
          {"eval_count", r.usage.completion_tokens},
          {"eval_duration", ns(r.timings.decode_ms)}};
}

std::string done_reason(const GenerateResponse& r) {
  return r.finish_reason == finish_reason::length ? "length" : "stop";
}

// keep_alive: 0 (or "0", "0s") unloads an on-demand model after the request.
bool keep_alive_zero(const json& body) {
  if (!body.contains("keep_alive") || body["keep_alive"].is_null()) return false;
  const json& k = body["keep_alive"];
  if (k.is_number()) return k.get<double>() == 0;
  if (k.is_string()) {
    const std::string s = k.get<std::string>();
    return s == "0" || s == "0s" || s == "0m";
  }
  throw bad_request("'keep_alive' must be a number of seconds or a duration string", "keep_alive");
}

void run_ollama(ServerContext& ctx, const std::shared_ptr<Exchange>& ex, InferenceRequest req, bool chat,
                bool stream, bool unload_after) {
  auto job = std::make_shared<InferenceJob>();
  job->request = std::move(req);
  const std::string model_id = job->request.model->id;
  Provider* tokenizer = job->request.generate.logprobs ? &inspecting_provider(*job->request.model, true) : nullptr;
  const auto t0 = ex->started();
  auto opened = std::make_shared<bool>(false);
  auto line = [=](json j) {
    j["model"] = model_id;
    j["created_at"] = rfc3339(std::chrono::system_clock::now());
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  };
  auto piece = [=](const std::string& text) {
    if (chat) return json{{"message", {{"role", "assistant"}, {"content", text}}}, {"done", false}};
    return json{{"response", text}, {"done", false}};
  };
  // Chat replies: content, "thinking" and "tool_calls" apart (tool_replies.hpp).
  // Calls go out whole, streamed or not, as Ollama sends them.
  auto splitter = chat ? std::make_shared<ReplySplitter>(ctx, job->request, tools::CallEvents::whole) : nullptr;
  auto message_of = [=](const std::vector<tools::ReplyEvent>& events) {
    json msg = {{"role", "assistant"}, {"content", ""}};
    json calls = json::array();
    for (const auto& e : events) {
      if (e.kind == tools::ReplyEvent::content) msg["content"] = msg["content"].get<std::string>() + e.text;
      else if (e.kind == tools::ReplyEvent::reasoning)
        msg["thinking"] = msg.value("thinking", std::string()) + e.text;
      else if (e.kind == tools::ReplyEvent::call) {
        json args = json::object();
        try {
          args = json::parse(e.tool_call.arguments);
        } catch (const json::exception&) {
        }
        calls.push_back({{"function", {{"name", e.tool_call.name}, {"arguments", args}}}});
      }
    }
    if (!calls.empty()) msg["tool_calls"] = std::move(calls);
    return msg;
  };
  auto open = [=] {
    if (*opened) return;
    *opened = true;
    ex->begin_stream(200, "application/x-ndjson");
  };
  job->on_delta = [=](const StreamDelta& d) {
    if (d.text.empty() && (!tokenizer || d.logprobs.empty())) return;
    if (!d.text.empty()) ex->note_first_token();
    if (!stream) return;
    open();
    json j;
    if (!splitter) {
      j = piece(d.text);
    } else {
      const auto events = d.text.empty() ? std::vector<tools::ReplyEvent>{} : splitter->feed(d.text);
      if (events.empty() && !tokenizer) return;  // held back: nothing to say yet
      j = {{"message", message_of(events)}, {"done", false}};
    }
    if (tokenizer) j["logprobs"] = ollama_logprobs_json(*tokenizer, d.logprobs);
    ex->write(line(j));
  };
  job->on_done = [=, &ctx](const InferenceResult& r) {
    ex->note_tokens(r.response.usage.prompt_tokens, r.response.usage.completion_tokens, r.cached_tokens);
    const double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    json last = piece(stream ? std::string() : r.response.text);
    if (splitter) {
      // Streamed: what the splitter still held; whole: the reply split at once.
      last["message"] = message_of(stream ? splitter->finish(r.response) : [&] {
        auto events = splitter->feed(r.response.text);
        for (auto& e : splitter->finish(r.response)) events.push_back(std::move(e));
        return events;
      }());
    }
    last["done"] = true;
    last["done_reason"] = done_reason(r.response);
    last.update(stats_json(r.response, total_ms));
    if (tokenizer && !stream) last["logprobs"] = ollama_logprobs_json(*tokenizer, r.response.logprobs);
    if (unload_after) ctx.models.unload(model_id);
    if (stream) {
      open();
      ex->write(line(last));
      ex->end_stream();
    } else {
      ex->respond(200, "application/json; charset=utf-8", line(last));
    }
  };
  job->on_error = [=](std::exception_ptr e) {
    const ApiError err = to_api_error(e);
    if (*opened) {
      ex->write(error_body(ApiFlavor::ollama, err) + "\n");
      ex->end_stream();
    } else {
      send_error(*ex, ApiFlavor::ollama, err);
    }
  };
  submit_job(ctx, *ex, job);
}

std::string model_name(const json& body) {
  auto m = opt_string(body, "model");
  if (!m) m = opt_string(body, "name");
  if (!m || m->empty()) throw bad_request("model is required", "model");
  return *m;
}

// Ollama's `images`: base64 strings (no data: prefix), as attachments.
std::vector<std::filesystem::path> ollama_images(const json& images, const std::string& where, InferenceRequest& req) {
  std::vector<std::filesystem::path> out;
  if (images.empty()) return out;
  if (!req.model->caps.vision) throw unsupported_param("images", where + ": " + text_only_reason(req.model->id, false));
  if (!req.images) req.images = std::make_shared<ImageInputs>(false, MediaLimits{}.max_file_bytes);
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!images[i].is_string()) throw bad_request(at + " must be a base64 string", "images");
    out.push_back(req.images->from_base64(images[i].get<std::string>(), at, "images"));
  }
  return out;
}

// Ollama's image placeholder: each `[img]` in the text takes, in order, the
// next of the turn's images (the placeholder itself is removed); images left
// over go before the text, as Ollama prefixes them; `[img]`s beyond the images
// stay as text. Returns the images in prompt order with their byte offsets.
struct PlacedImages {
  std::string text;
  std::vector<std::filesystem::path> files;
  std::vector<size_t> offsets;  // empty: all before the text
};
PlacedImages place_images(const std::string& text, std::vector<std::filesystem::path> files) {
  static const std::string placeholder = "[img]";
  PlacedImages out;
  std::vector<size_t> at;  // offsets of the placed images, in out.text
  size_t from = 0;
  for (size_t hit; at.size() < files.size() && (hit = text.find(placeholder, from)) != std::string::npos;
       from = hit + placeholder.size()) {
    out.text.append(text, from, hit - from);
    at.push_back(out.text.size());
  }
  out.text.append(text, from, std::string::npos);
  if (at.empty()) {
    out.files = std::move(files);
    return out;
  }
  // The leftovers (after the placed ones in `images`) come first in the prompt.
  for (size_t k = at.size(); k < files.size(); ++k) {
    out.files.push_back(std::move(files[k]));
    out.offsets.push_back(0);
  }
  for (size_t k = 0; k < at.size(); ++k) {
    out.files.push_back(std::move(files[k]));
    out.offsets.push_back(at[k]);
  }
  return out;
}

std::shared_ptr<ServedModel> find_model(ServerContext& ctx, const std::string& name) {
  try {
    return ctx.models.find(name);
  } catch (const ApiError& e) {
    if (e.status == 404) throw ApiError(404, "not_found", "model '" + name + "' not found", "model");
    throw;
  }
}

void chat(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const json body = request_json(ctx, *ex);
  InferenceRequest req;
  req.model = find_model(ctx, model_name(body));
  check_think(ctx, body, *req.model);
  const json* msgs = opt_array(body, "messages");
  if (!msgs || msgs->empty()) {  // Ollama: an empty chat loads the model
    const bool unload = keep_alive_zero(body);
    if (unload) ctx.models.unload(req.model->id);
    send_json(*ex, 200, {{"model", req.model->id}, {"created_at", rfc3339(std::chrono::system_clock::now())},
                         {"message", {{"role", "assistant"}, {"content", ""}}},
                         {"done_reason", unload ? "unload" : "load"}, {"done", true}});
    return;
  }
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw bad_request(where + " must be an object", "messages");
    auto role = opt_string(m, "role");
    if (!role || (*role != "system" && *role != "user" && *role != "assistant" && *role != "tool"))
      throw bad_request(where + ".role must be system, user, assistant or tool", "messages");
    Message msg(*role, opt_string(m, "content").value_or(""));
    if (const json* images = opt_array(m, "images"); images && !images->empty()) {
      PlacedImages placed = place_images(msg.content, ollama_images(*images, where + ".images", req));
      msg.content = std::move(placed.text);
      msg.attachments = std::move(placed.files);
      msg.attachment_offsets = std::move(placed.offsets);
    }
    // Earlier calls ({"function": {"name", "arguments"}}) and results
    // ("tool_name") go back through the chat template.
    if (const json* calls = opt_array(m, "tool_calls")) {
      for (size_t k = 0; k < calls->size(); ++k) {
        const json& c = (*calls)[k];
        if (!c.is_object() || !c.contains("function") || !c["function"].is_object() ||
            !c["function"].contains("name") || !c["function"]["name"].is_string())
          throw bad_request(where + ".tool_calls[" + std::to_string(k) + "] must be {function: {name, arguments}}",
                            "messages");
        json call = {{"id", c.value("id", "call_" + std::to_string(i) + "_" + std::to_string(k))},
                     {"type", "function"},
                     {"function", {{"name", c["function"]["name"]},
                                   {"arguments", c["function"].value("arguments", json::object())}}}};
        msg.tool_calls.push_back(std::move(call));
      }
    }
    if (*role == "tool") msg.name = opt_string(m, "tool_name").value_or(opt_string(m, "name").value_or(""));
    req.generate.messages.push_back(std::move(msg));
  }
  if (const json* tools = opt_array(body, "tools")) req.generate.tools = *tools;
  req.generate.params = ollama_options(body, *req.model);
  req.generate.grammar = ollama_output_grammar(body, ex->request().body);
  req.generate.logprobs = read_ollama_logprobs(body);
  cap_max_tokens(req.generate.params, *req.model);
  const bool stream = opt_bool(body, "stream").value_or(true);
  run_ollama(ctx, ex, std::move(req), true, stream, keep_alive_zero(body));
}

void generate(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const json body = request_json(ctx, *ex);
  if (auto s = opt_string(body, "suffix"); s && !s->empty())
    throw unsupported_param("suffix", "fill-in-the-middle is not available (send the prefix as the prompt)");
  if (auto t = opt_string(body, "template"); t && !t->empty())
    throw unsupported_param("template", "per-request templates; the model's own is used");
  if (const json* c = opt_array(body, "context"); c && !c->empty())
    throw unsupported_param("context", "send the conversation to /api/chat instead");
  InferenceRequest req;
  req.model = find_model(ctx, model_name(body));
  std::vector<std::filesystem::path> image_files;
  if (const json* images = opt_array(body, "images")) image_files = ollama_images(*images, "images", req);
  if (body.contains("think") && body["think"].is_boolean() && body["think"].get<bool>())
    throw unsupported_param("think", "thinking is returned apart on /api/chat only");
  const std::string prompt = opt_string(body, "prompt").value_or("");
  if (prompt.empty()) {  // Ollama: an empty prompt loads (or with keep_alive 0 unloads) the model
    const bool unload = keep_alive_zero(body);
    if (unload) ctx.models.unload(req.model->id);
    send_json(*ex, 200, {{"model", req.model->id}, {"created_at", rfc3339(std::chrono::system_clock::now())},
                         {"response", ""}, {"done", true}, {"done_reason", unload ? "unload" : "load"}});
    return;
  }
  req.raw = opt_bool(body, "raw").value_or(false);
  PlacedImages placed = place_images(prompt, std::move(image_files));
  req.generate.prompt = std::move(placed.text);
  req.generate.files = std::move(placed.files);
  req.generate.file_offsets = std::move(placed.offsets);
  if (auto sys = opt_string(body, "system"); sys && !sys->empty()) {
    if (req.raw) throw bad_request("'system' cannot be combined with raw mode", "system");
    req.generate.system_prompt = *sys;
  }
  req.generate.params = ollama_options(body, *req.model);
  req.generate.grammar = ollama_output_grammar(body, ex->request().body);
  req.generate.logprobs = read_ollama_logprobs(body);
  cap_max_tokens(req.generate.params, *req.model);
  const bool stream = opt_bool(body, "stream").value_or(true);
  run_ollama(ctx, ex, std::move(req), false, stream, keep_alive_zero(body));
}

uint64_t weight_bytes(const ServedModel& m) {
  std::error_code ec;
  const std::filesystem::path p = m.caps.model_info.value("path", std::string());
  if (std::filesystem::is_regular_file(p, ec)) return std::filesystem::file_size(p, ec);
  uint64_t total = 0;
  for (auto& e : std::filesystem::directory_iterator(p, ec)) {
    const auto ext = e.path().extension();
    if (ext == ".safetensors" || ext == ".gguf") total += std::filesystem::file_size(e.path(), ec);
  }
  return total;
}

json details_json(const ServedModel& m) {
  const std::string type = m.caps.model_info.value("model_type", std::string());
  const std::string path = m.caps.model_info.value("path", std::string());
  const bool gguf = path.size() > 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
  return {{"parent_model", ""},
          {"format", gguf ? "gguf" : "safetensors"},
          {"family", type},
          {"families", json::array({type})},
          {"parameter_size", ""},
          {"quantization_level", ""}};
}

json tag_json(const ServedModel& m) {
  return {{"name", m.id},
          {"model", m.id},
          {"modified_at", rfc3339(m.loaded_at)},
          {"size", weight_bytes(m)},
          {"digest", m.caps.model_info.value("fingerprint", std::string())},
          {"details", details_json(m)}};
}

void show(ServerContext& ctx, Exchange& ex) {
  const json body = request_json(ctx, ex);
  auto m = find_model(ctx, model_name(body));
  const json& info = m->caps.model_info;
  const std::string type = info.value("model_type", std::string());
  // An embedding checkpoint answers /api/embed (Ollama lists "embedding" then).
  const bool embedding = m->caps.model_info.contains("embedding") && m->caps.model_info["embedding"].is_object();
  json capabilities = json::array({embedding ? "embedding" : "completion"});
  if (m->caps.tool_use) capabilities.push_back("tools");
  if (m->caps.vision) capabilities.push_back("vision");
  json model_info = {{"general.architecture", type},
                     {type + ".context_length", m->context_length()},
                     {type + ".block_count", info.value("layers", int64_t{0})},
                     {"tokenizer.vocab_size", info.value("vocab_size", int64_t{0})}};
  if (embedding) model_info[type + ".embedding_length"] = info["embedding"].value("dimension", int64_t{0});
  send_json(ex, 200,
            {{"modelfile", "# served by allm\nFROM " + m->spec + "\n"},
             {"parameters", ""},
             {"template", ""},
             {"details", details_json(*m)},
             {"model_info", model_info},
             {"capabilities", capabilities},
             {"modified_at", rfc3339(m->loaded_at)}});
}

}  // namespace

bool ollama_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const auto& r = ex->request();
  if (r.path.rfind("/api/", 0) != 0) return false;
  if (r.method == "POST" && r.path == "/api/chat") {
    ex->note_route("/api/chat");
    chat(ctx, ex);
  } else if (r.method == "POST" && r.path == "/api/generate") {
    ex->note_route("/api/generate");
    generate(ctx, ex);
  } else if (r.method == "GET" && r.path == "/api/tags") {
    ex->note_route("/api/tags");
    json models = json::array();
    for (auto& m : ctx.models.list()) models.push_back(tag_json(*m));
    send_json(*ex, 200, {{"models", models}});
  } else if (r.method == "POST" && r.path == "/api/show") {
    ex->note_route("/api/show");
    show(ctx, *ex);
  } else if (r.method == "GET" && r.path == "/api/ps") {
    ex->note_route("/api/ps");
    json models = json::array();
    for (auto& m : ctx.models.list()) {
      json j = tag_json(*m);
      j["expires_at"] = "2318-01-01T00:00:00Z";  // no timed unload: LRU or keep_alive 0 only
      j["size_vram"] = 0;
      j["context_length"] = m->context_length();
      models.push_back(j);
    }
    send_json(*ex, 200, {{"models", models}});
  } else if (r.method == "GET" && r.path == "/api/version") {
    ex->note_route("/api/version");
    send_json(*ex, 200, {{"version", ctx.options.version}});
  } else {
    return false;
  }
  return true;
}

}  // namespace allm::server
