// Embeddings: OpenAI POST /v1/embeddings, Ollama POST /api/embed and the
// older /api/embeddings, for models whose provider computes them (the local
// engine: checkpoints in the sentence-transformers layout). They run on the
// handler thread; the model's forward calls are shared with the generations
// running on it (the provider serialises them with the batched steps).
#include <chrono>
#include <cstring>

#include "allm/error.hpp"
#include "routes.hpp"

namespace allm::server {

namespace {

// Held while the model embeds, so on-demand eviction leaves it loaded.
struct InUse {
  explicit InUse(ServedModel& m) : m(m) { m.in_use++; }
  ~InUse() { m.in_use--; }
  InUse(const InUse&) = delete;
  InUse& operator=(const InUse&) = delete;
  ServedModel& m;
};

std::shared_ptr<ServedModel> embedding_model(ServerContext& ctx, Exchange& ex, const json& body) {
  auto model = ctx.models.find(opt_string(body, "model").value_or(""));
  ex.note_model(model->id);
  const json& info = model->caps.model_info;
  if (!info.contains("embedding") || !info["embedding"].is_object())
    throw bad_request("model '" + model->id +
                          "' is not an embedding model (embeddings need a checkpoint in the sentence-transformers "
                          "layout: modules.json with a Pooling module)",
                      "model");
  return model;
}

// OpenAI's input: a string, an array of strings, an array of token ids or an
// array of such arrays.
void read_openai_input(const json& body, EmbedRequest& req) {
  if (!body.contains("input") || body["input"].is_null()) throw bad_request("'input' is required", "input");
  const json& in = body["input"];
  auto token_list = [](const json& a, const std::string& where) {
    std::vector<TokenId> ids;
    for (size_t i = 0; i < a.size(); ++i) {
      const json& t = a[i];
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
        throw bad_request(where + "[" + std::to_string(i) + "] is not a token id", "input");
      ids.push_back(static_cast<TokenId>(t.get<int64_t>()));
    }
    if (ids.empty()) throw bad_request(where + " is empty", "input");
    return ids;
  };
  if (in.is_string()) {
    req.texts.push_back(in.get<std::string>());
  } else if (in.is_array()) {
    if (in.empty()) throw bad_request("'input' must not be empty", "input");
    if (in[0].is_number()) {
      req.token_inputs.push_back(token_list(in, "input"));
    } else {
      for (size_t i = 0; i < in.size(); ++i) {
        const std::string where = "input[" + std::to_string(i) + "]";
        if (in[i].is_string()) {
          if (!req.token_inputs.empty()) throw bad_request("'input' mixes texts and token arrays", "input");
          req.texts.push_back(in[i].get<std::string>());
        } else if (in[i].is_array()) {
          if (!req.texts.empty()) throw bad_request("'input' mixes texts and token arrays", "input");
          req.token_inputs.push_back(token_list(in[i], where));
        } else {
          throw bad_request(where + " must be a string or an array of token ids", "input");
        }
      }
    }
  } else {
    throw bad_request("'input' must be a string, an array of strings or an array of token ids", "input");
  }
  for (size_t i = 0; i < req.texts.size(); ++i)
    if (req.texts[i].empty())
      throw bad_request(req.texts.size() == 1 ? "'input' must not be an empty string"
                                              : "input[" + std::to_string(i) + "] must not be an empty string",
                        "input");
}

std::optional<int64_t> read_dimensions(const json& body) {
  auto d = opt_int(body, "dimensions");
  if (d && *d < 1) throw bad_request("'dimensions' must be at least 1", "dimensions");
  return d;
}

// Runs the request; provider errors (a too-long input without truncation,
// dimensions beyond the model's) become 400s naming the field.
EmbedResponse run_embed(ServedModel& model, const EmbedRequest& req) {
  InUse hold(model);
  try {
    return model.chat->embed(req);
  } catch (const ContextWindowError& e) {
    throw bad_request(e.what(), "input");
  } catch (const InvalidArgumentError& e) {
    const std::string msg = e.what();
    throw bad_request(msg, msg.find("dimensions") != std::string::npos ? "dimensions" : "input");
  }
}

// Little-endian float32 bytes in base64 (OpenAI's encoding_format "base64",
// which the official clients ask for by default).
std::string base64_floats(const std::vector<float>& v) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(v.size() * 4, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + b] = static_cast<char>((u >> (8 * b)) & 0xff);
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (i + 1 < bytes.size() ? static_cast<uint8_t>(bytes[i + 1]) << 8 : 0) |
                       (i + 2 < bytes.size() ? static_cast<uint8_t>(bytes[i + 2]) : 0);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? table[n & 63] : '=';
  }
  return out;
}

void openai_embeddings(ServerContext& ctx, Exchange& ex) {
  const json body = request_json(ctx, ex);
  auto model = embedding_model(ctx, ex, body);
  EmbedRequest req;
  read_openai_input(body, req);
  req.dimensions = read_dimensions(body);
  const std::string format = opt_string(body, "encoding_format").value_or("float");
  if (format != "float" && format != "base64")
    throw bad_request("'encoding_format' must be \"float\" or \"base64\", got \"" + format + "\"", "encoding_format");
  (void)opt_string(body, "user");  // accepted (type-checked), not used
  const EmbedResponse r = run_embed(*model, req);
  json data = json::array();
  for (size_t i = 0; i < r.embeddings.size(); ++i)
    data.push_back({{"object", "embedding"},
                    {"index", i},
                    {"embedding", format == "base64" ? json(base64_floats(r.embeddings[i])) : json(r.embeddings[i])}});
  ex.note_tokens(r.prompt_tokens, 0, 0);
  send_json(ex, 200,
            {{"object", "list"},
             {"data", data},
             {"model", model->id},
             {"usage", {{"prompt_tokens", r.prompt_tokens}, {"total_tokens", r.prompt_tokens}}}});
}

int64_t ns(double ms) { return static_cast<int64_t>(ms * 1e6); }

// Ollama's options that change an embedding; the rest (threads, GPU) are about
// where it runs and are accepted.
void check_ollama_options(const json& body) {
  const json* o = opt_object(body, "options");
  if (!o) return;
  if (auto ctx = opt_int(*o, "num_ctx"); ctx && *ctx < 1) throw bad_request("'num_ctx' must be positive", "num_ctx");
}

// /api/embed: {"model", "input": string | [string], "truncate", "dimensions", "options", "keep_alive"}.
void ollama_embed(ServerContext& ctx, Exchange& ex) {
  const auto t0 = std::chrono::steady_clock::now();
  const json body = request_json(ctx, ex);
  auto model = embedding_model(ctx, ex, body);
  check_ollama_options(body);
  EmbedRequest req;
  if (!body.contains("input") || body["input"].is_null()) throw bad_request("'input' is required", "input");
  const json& in = body["input"];
  if (in.is_string()) {
    req.texts.push_back(in.get<std::string>());
  } else if (in.is_array()) {
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i].is_string()) throw bad_request("input[" + std::to_string(i) + "] must be a string", "input");
      req.texts.push_back(in[i].get<std::string>());
    }
  } else {
    throw bad_request("'input' must be a string or an array of strings", "input");
  }
  for (size_t i = 0; i < req.texts.size(); ++i)
    if (req.texts[i].empty()) throw bad_request("input[" + std::to_string(i) + "] must not be empty", "input");
  req.truncate = opt_bool(body, "truncate").value_or(true);
  req.dimensions = read_dimensions(body);
  json embeddings = json::array();
  EmbedResponse r;
  if (!req.texts.empty()) {  // Ollama answers an empty list with no vectors
    r = run_embed(*model, req);
    for (auto& v : r.embeddings) embeddings.push_back(v);
  }
  ex.note_tokens(r.prompt_tokens, 0, 0);
  const double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  send_json(ex, 200,
            {{"model", model->id},
             {"embeddings", embeddings},
             {"total_duration", ns(total_ms)},
             {"load_duration", ns(r.load_ms)},
             {"prompt_eval_count", r.prompt_tokens}});
}

// /api/embeddings (Ollama's older route): {"model", "prompt"} -> {"embedding"}.
void ollama_embeddings_legacy(ServerContext& ctx, Exchange& ex) {
  const json body = request_json(ctx, ex);
  auto model = embedding_model(ctx, ex, body);
  check_ollama_options(body);
  auto prompt = opt_string(body, "prompt");
  if (!prompt) throw bad_request("'prompt' is required", "prompt");
  json embedding = json::array();
  if (!prompt->empty()) {  // Ollama answers an empty prompt with an empty vector
    EmbedRequest req;
    req.texts.push_back(*prompt);
    const EmbedResponse r = run_embed(*model, req);
    embedding = r.embeddings.front();
    ex.note_tokens(r.prompt_tokens, 0, 0);
  }
  send_json(ex, 200, {{"embedding", embedding}});
}

}  // namespace

bool embedding_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex) {
  const auto& r = ex->request();
  if (r.method != "POST") return false;
  if (r.path == "/v1/embeddings" || r.path == "/embeddings") {
    ex->note_route("/v1/embeddings");
    openai_embeddings(ctx, *ex);
    return true;
  }
  if (r.path == "/api/embed") {
    ex->note_route("/api/embed");
    ollama_embed(ctx, *ex);
    return true;
  }
  if (r.path == "/api/embeddings") {
    ex->note_route("/api/embeddings");
    ollama_embeddings_legacy(ctx, *ex);
    return true;
  }
  return false;
}

}  // namespace allm::server
