#pragma once
// allm serve: one HTTP server speaking the OpenAI, Anthropic and Ollama APIs
// (docs/server.md). The three APIs are thin adapters over one internal request
// type (InferenceRequest) and one Scheduler; none generates on its own.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "allm/provider.hpp"

namespace allm::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::vector<std::string> models;    // specs as given on the command line (first = default)
  std::string api_key;                // empty: no authentication
  std::vector<std::string> cors_origins;  // empty: no CORS headers; "*" allows any origin
  bool webui = true;                  // the chat page at GET / (--no-webui: off)
  bool allow_any_model_path = false;  // requests may name any directory/.gguf path
  bool allow_image_urls = false;      // image parts may be http(s) URLs, fetched by the server
  size_t max_loaded_models = 2;       // models loaded at once (started-with + on demand), LRU beyond
  int parallel = 1;                   // sequences decoding at once per model
  size_t queue_size = 16;             // requests waiting per model beyond the running ones
  size_t max_body_bytes = 8u << 20;
  size_t max_header_bytes = 16u << 10;
  double header_timeout_s = 10;       // whole request head (and keep-alive idle)
  double body_timeout_s = 60;         // whole request body
  double write_timeout_s = 60;        // a client not reading its answer for this long is dropped
  size_t max_connections = 512;
  int max_json_depth = 64;
  double drain_timeout_s = 30;        // SIGTERM: in-flight requests get this long
  std::string log_format = "text";    // access log on stderr: "text", "json" or "off"
  std::string tool_call_format;       // empty: each model's, from its chat template (docs/tools.md)
  std::string version;                // reported by /api/version and the Server header
};

// Creates a provider for a model spec; `raw` = plain completion (no chat template).
using ProviderMaker = std::function<std::shared_ptr<Provider>(const std::string& spec, bool raw)>;

// Loads the startup models, listens, serves until SIGTERM/SIGINT (then drains).
// Prints "allm serve: listening on http://H:P" on stderr when ready. Returns
// the process exit code; throws allm::Error for startup failures (bad
// address, port in use, a model that does not load).
int run_server(const ServerOptions& options, const ProviderMaker& make_provider);

}  // namespace allm::server
