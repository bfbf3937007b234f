// /health, /tokenize, /detokenize, /apply-template (llama.cpp server shapes)
// and /metrics (Prometheus text).
#include "routes.hpp"

namespace allm::server {

Provider& inspecting_provider(const ServedModel& m, bool raw) {
  if (!m.caps.model_info.value("prompt_inspection", false))
    throw ApiError(400, "unsupported", "the provider of model '" + m.id + "' does not expose its tokenizer");
  return raw ? *m.raw : *m.chat;
}

namespace {

void tokenize(ServerContext& ctx, Exchange& ex) {
  const json body = request_json(ctx, ex);
  auto model = ctx.models.find(opt_string(body, "model").value_or(""));
  auto content = opt_string(body, "content");
  if (!content) content = opt_string(body, "prompt");
  if (!content) throw bad_request("'content' (the text to tokenize) is required", "content");
  const bool add_special = opt_bool(body, "add_special").value_or(false);
  const bool with_pieces = opt_bool(body, "with_pieces").value_or(false);
  Provider& p = inspecting_provider(*model, true);
  const auto ids = p.tokenize(*content, add_special);
  json tokens = json::array();
  for (auto id : ids) {
    if (with_pieces)
      tokens.push_back({{"id", id}, {"piece", p.detokenize({id}, false)}});
    else
      tokens.push_back(id);
  }
  send_json(ex, 200, {{"tokens", tokens}, {"model", model->id}});
}

void detokenize(ServerContext& ctx, Exchange& ex) {
  const json body = request_json(ctx, ex);
  auto model = ctx.models.find(opt_string(body, "model").value_or(""));
  const json* tokens = opt_array(body, "tokens");
  if (!tokens) throw bad_request("'tokens' (an array of token ids) is required", "tokens");
  std::vector<TokenId> ids;
  for (size_t i = 0; i < tokens->size(); ++i) {
    const json& t = (*tokens)[i];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
      throw bad_request("tokens[" + std::to_string(i) + "] is not a token id", "tokens");
    ids.push_back(static_cast<TokenId>(t.get<int64_t>()));
  }
  Provider& p = inspecting_provider(*model, true);
  send_json(ex, 200, {{"content", p.detokenize(ids, false)}, {"model", model->id}});
}

// The model's chat template applied to OpenAI-style messages.
void apply_template(ServerContext& ctx, Exchange& ex) {
  const json body = request_json(ctx, ex);
  auto model = ctx.models.find(opt_string(body, "model").value_or(""));
  const json* msgs = opt_array(body, "messages");
  if (!msgs || msgs->empty()) throw bad_request("'messages' (a non-empty array) is required", "messages");
  GenerateRequest req;
  req.messages = openai_messages(body);  // tool calls and results render as in a chat request
  if (const json* tools = opt_array(body, "tools")) req.tools = *tools;
  Provider& p = inspecting_provider(*model, false);
  const auto preview = p.preview_prompt(req);
  send_json(ex, 200, {{"prompt", preview.text}, {"tokens", preview.ids.size()}, {"model", model->id}});
}

}  // namespace

bool utility_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const auto& r = ex->request();
  if (r.method == "GET" && r.path == "/health") {
    ex->note_route("/health");
    send_json(*ex, 200, {{"status", "ok"}});
    return true;
  }
  if (r.method == "GET" && r.path == "/metrics") {
    ex->note_route("/metrics");
    uint64_t calls = 0, seqs = 0;
    Metrics::KvTotals kv;
    const auto models = ctx.models.list();
    for (auto& m : models) {
      calls += m->batched_calls.load();
      seqs += m->batched_sequences.load();
      kv.bytes += m->kv_bytes();
      std::lock_guard lock(m->kv_mutex);
      kv.snapshot_bytes += m->kv.snapshot_bytes;
      kv.snapshots += m->kv.snapshots;
    }
    ex->respond(200, "text/plain; version=0.0.4",
                ctx.metrics.render(ctx.scheduler.stats(), models.size(), calls, seqs, kv));
    return true;
  }
  if (r.method == "POST" && r.path == "/tokenize") {
    ex->note_route("/tokenize");
    tokenize(ctx, *ex);
    return true;
  }
  if (r.method == "POST" && r.path == "/detokenize") {
    ex->note_route("/detokenize");
    detokenize(ctx, *ex);
    return true;
  }
  if (r.method == "POST" && r.path == "/apply-template") {
    ex->note_route("/apply-template");
    apply_template(ctx, *ex);
    return true;
  }
  return false;
}

}  // namespace allm::server
