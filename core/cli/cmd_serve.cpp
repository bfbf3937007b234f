// allm serve [MODEL...]: the OpenAI, Anthropic and Ollama HTTP APIs over the
// local provider (docs/server.md). Models resolve like `allm run`.
#include <cstdlib>

#include "allm/server/server.hpp"
#include "allm/tool_calls.hpp"
#include "allm/version.hpp"
#include "generation_cli.hpp"

namespace allm::cli {

namespace {

size_t positive_size(Args& args, const char* name, size_t fallback) {
  auto v = args.integer(name);
  if (!v) return fallback;
  if (*v < 1) throw InvalidArgumentError(std::string("--") + name + " must be a positive number");
  return static_cast<size_t>(*v);
}

double positive_seconds(Args& args, const char* name, double fallback) {
  auto v = args.number(name);
  if (!v) return fallback;
  if (!(*v > 0)) throw InvalidArgumentError(std::string("--") + name + " must be a positive number of seconds");
  return *v;
}

// The remote chat APIs have no raw completion (no chat template): the raw
// slot of a remote model (/v1/completions, /api/generate with raw) refuses it
// by name instead of sending a chat request in its place.
class RemoteRawRefused : public Provider {
 public:
  RemoteRawRefused(std::shared_ptr<Provider> chat, std::string spec) : chat_(std::move(chat)), spec_(std::move(spec)) {}
  Capabilities capabilities() const override { return chat_->capabilities(); }

 protected:
  GenerateResponse do_generate(const PreparedRequest&, const StreamCallback&, const CancellationToken&) override {
    throw UnsupportedError(spec_ + " is a remote chat model: raw completion without a chat template is not "
                           "available for it (use the chat routes)");
  }

 private:
  std::shared_ptr<Provider> chat_;
  std::string spec_;
};

}  // namespace

static int run_serve(Args& args) {
  server::ServerOptions o;
  if (auto h = args.value("host")) o.host = *h;
  if (auto p = args.integer("port")) {
    if (*p < 0 || *p > 65535) throw InvalidArgumentError("--port must be between 0 and 65535");
    o.port = static_cast<uint16_t>(*p);
  }
  if (auto k = args.value("api-key")) o.api_key = *k;
  else if (const char* env = std::getenv("ALLM_API_KEY")) o.api_key = env;
  o.cors_origins = args.values("cors-origin");
  o.allow_any_model_path = args.flag("allow-any-model-path");
  o.allow_image_urls = args.flag("allow-image-urls");
  o.webui = !args.flag("no-webui");
  o.parallel = static_cast<int>(positive_size(args, "parallel", 1));
  o.queue_size = positive_size(args, "queue", o.queue_size);
  o.max_body_bytes = positive_size(args, "max-body-bytes", o.max_body_bytes);
  o.max_header_bytes = positive_size(args, "max-header-bytes", o.max_header_bytes);
  o.max_connections = positive_size(args, "max-connections", o.max_connections);
  o.max_json_depth = static_cast<int>(positive_size(args, "max-json-depth", static_cast<size_t>(o.max_json_depth)));
  o.header_timeout_s = positive_seconds(args, "header-timeout", o.header_timeout_s);
  o.body_timeout_s = positive_seconds(args, "body-timeout", o.body_timeout_s);
  o.write_timeout_s = positive_seconds(args, "write-timeout", o.write_timeout_s);
  o.drain_timeout_s = positive_seconds(args, "drain-timeout", o.drain_timeout_s);
  if (auto f = args.value("log-format")) o.log_format = *f;
  if (auto f = args.value("tool-call-format")) {
    if (!tools::format_from_name(*f))
      throw InvalidArgumentError("--tool-call-format: unknown format '" + *f + "' (formats: " + tools::format_names() +
                                 ")");
    o.tool_call_format = *f;
  }
  nlohmann::json provider_options = provider_flags(args);
  // The prompt cache shared by a model's slots (docs/server.md); 0 turns sharing off.
  provider_options["prompt_cache"] = parse_byte_size(args.value("prompt-cache").value_or("1GiB"), "--prompt-cache");
  o.models = args.positionals();
  args.finish();
  if (o.models.empty()) o.models.push_back(default_model_spec());
  o.max_loaded_models = host().config().merged().value("max_cached_models", size_t{2});
  o.version = ALLM_SDK_VERSION;

  return server::run_server(o, [&](const std::string& spec, bool raw) {
    nlohmann::json opts = provider_options;
    opts["template"] = raw ? "none" : "auto";
    const ModelChoice model = choose_model(spec);
    if (model.remote.empty()) return make_local_provider(model, opts);
    // PROVIDER:MODEL: allm fronts the remote model under that id (docs/providers.md).
    auto chat = make_provider(model, opts);
    if (!raw) return chat;
    return std::shared_ptr<Provider>(std::make_shared<RemoteRawRefused>(chat, spec));
  });
}

ALLM_CLI_COMMAND(serve, "Serve models over HTTP (OpenAI, Anthropic and Ollama APIs)",
                 "Usage: allm serve [MODEL...] [options]\n\n"
                 "Serves the OpenAI (/v1/chat/completions, /v1/completions, /v1/models),\n"
                 "Anthropic (/v1/messages, /v1/messages/count_tokens) and Ollama (/api/chat,\n"
                 "/api/generate, /api/tags, /api/show, /api/ps, /api/version) APIs, plus\n"
                 "/health, /tokenize, /detokenize, /apply-template and /metrics. MODEL is a\n"
                 "model directory, a .gguf file or a Hugging Face repo id, as for allm run\n"
                 "(default: config default_model). Clients name a model by its id from\n"
                 "/v1/models; Hugging Face cache ids not loaded yet are loaded on demand (up\n"
                 "to config max_cached_models). Prints 'allm serve: listening on http://H:P'\n"
                 "on stderr when ready; SIGTERM finishes in-flight requests, then exits.\n"
                 "A browser opening http://H:P/ gets a chat page (docs/server.md).\n"
                 "Details, limits and client setup: docs/server.md.\n\n"
                 "  --host H               address to bind (default 127.0.0.1: this machine only)\n"
                 "  --port P               TCP port (default 8080; 0 picks a free one)\n"
                 "  --api-key K            require K as 'Authorization: Bearer K' or 'x-api-key'\n"
                 "                         on every route but /health (default: $ALLM_API_KEY)\n"
                 "  --cors-origin O        allow browser requests from origin O ('*': any;\n"
                 "                         repeatable; default: no CORS headers)\n"
                 "  --allow-any-model-path requests may name any model directory or .gguf path\n"
                 "  --allow-image-urls     fetch http(s) image URLs in requests (default: images\n"
                 "                         come inline, as data: URLs or base64)\n"
                 "  --no-webui             no chat page at / (browsers get it by default)\n"
                 "  --parallel N           slots per model: sequences generating at once, their\n"
                 "                         steps batched into one forward pass (default 1)\n"
                 "  --queue N              requests waiting per model before 503 (default 16)\n"
                 "  --prompt-cache SIZE    finished sequences kept per model for any slot to\n"
                 "                         reuse their longest common prefix (default 1GiB;\n"
                 "                         0: each slot reuses only its own last sequence)\n"
                 "  --max-body-bytes N     request body limit (default 8388608), else 413\n"
                 "  --max-header-bytes N   request head limit (default 16384), else 431\n"
                 "  --max-json-depth N     JSON nesting limit (default 64), else 400\n"
                 "  --max-connections N    open connections (default 512)\n"
                 "  --header-timeout S     seconds to send a request head, also keep-alive idle\n"
                 "                         time (default 10)\n"
                 "  --body-timeout S       seconds to send a request body (default 60)\n"
                 "  --write-timeout S      a client not reading its answer this long is dropped\n"
                 "                         and its generation cancelled (default 60)\n"
                 "  --drain-timeout S      on SIGTERM, wait this long for in-flight requests\n"
                 "                         (default 30)\n"
                 "  --log-format F         access log on stderr: text (default), json or off\n"
                 "  --tool-call-format F   how the models write tool calls, instead of what their\n"
                 "                         chat template shows: hermes, qwen3_coder, llama3,\n"
                 "                         mistral, mistral_args, harmony, deepseek_r1,\n"
                 "                         deepseek_v3_1, gemma4 or none (docs/tools.md)\n"
                 "  --ctx N                context window per model (default: config context_length)\n"
                 "  --threads N            compute threads (default: physical cores)\n"
                 "  --backend NAME         compute backend (default: config backend, else the\n"
                 "                         usable one with the highest score; see allm info)\n"
                 "  --gpu-layers N         with a GPU backend, only the first N layers there, the\n"
                 "                         rest on the CPU (default: config gpu_layers, -1 = all)\n",
                 run_serve)

}  // namespace allm::cli
