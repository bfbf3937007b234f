#pragma once
// What differs between the remote APIs: the route, the auth headers, how a
// PreparedRequest becomes a request body, and how streamed events become text,
// a finish reason and usage. RemoteProvider does the rest (HTTP, retries,
// deadline, cancellation, timings, errors) once for all of them.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/provider.hpp"
#include "event_stream.hpp"
#include "remote_settings.hpp"

namespace allm::remote {

// A tool call as its pieces arrive (OpenAI streams the arguments as text in
// deltas, Anthropic as partial JSON; Ollama sends each call whole).
struct PendingCall {
  std::string id, name;
  std::string arguments;  // JSON text, concatenated from the deltas
};

// What the stream has said so far.
struct StreamState {
  std::string reasoning;
  std::vector<PendingCall> calls;  // in the order the API numbered them
  std::map<int, size_t> block_calls;  // Anthropic: content block index -> calls index
  // The call numbered `index` by the API (created, with empty fields, when new).
  PendingCall& call_at(size_t index) {
    if (index >= calls.size()) calls.resize(index + 1);
    return calls[index];
  }
  std::string finish_reason;
  Usage usage;
  bool complete = false;       // the API's end-of-stream marker arrived
  double server_prompt_ms = 0;  // when the API reports its own timings
  double server_decode_ms = 0;
  double server_load_ms = 0;
};

class ApiDialect {
 public:
  virtual ~ApiDialect() = default;
  virtual ProviderDefaults defaults() const = 0;
  virtual EventStream::Framing framing() const = 0;
  virtual std::string chat_url(const RemoteSettings& s) const = 0;
  virtual std::string models_url(const RemoteSettings& s) const = 0;
  virtual std::vector<std::string> auth_headers(const RemoteSettings& s) const = 0;
  // The streamed request body; names of set parameters the API has no field
  // for go to `unsupported` (the provider reports them).
  virtual nlohmann::json request_body(const PreparedRequest& r, const std::string& model,
                                      std::vector<std::string>& unsupported) const = 0;
  // One event; returns the text it adds. Throws IoError for an error event.
  virtual std::string on_event(const std::string& event, const std::string& data, StreamState& state) const = 0;
  // Model ids from the models route's body.
  virtual std::vector<std::string> model_ids(const nlohmann::json& body) const = 0;
  // Sampling parameters the API accepts (for capabilities).
  virtual std::vector<std::string> supported_params() const = 0;
};

const ApiDialect& openai_dialect();
const ApiDialect& anthropic_dialect();
const ApiDialect& ollama_dialect();

// Helpers shared by the dialects.
std::string base64(const std::string& bytes);
// The original file's bytes (images go to APIs encoded, not as decoded pixels).
std::string read_file_bytes(const std::filesystem::path& path);
// Message i's content as an API's parts, its text and images in the order the
// turn has them (PreparedImage::offset: 0 = before the text); `image_part`
// and `text_part` make one part in the API's shape. Empty when it has no images.
nlohmann::json message_parts(const PreparedRequest& r, size_t i,
                             const std::function<nlohmann::json(const PreparedImage&)>& image_part,
                             const std::function<nlohmann::json(const std::string&)>& text_part);
// The server's own message from an error body ({"error": {"message"}} and
// variants), else the body itself, shortened.
std::string server_message(const std::string& body);
// The JSON Schema of a constrained request (`r.grammar` of kind json_schema),
// for APIs that take one; any other grammar kind throws UnsupportedError
// naming `provider` — a constraint is never dropped on the way.
nlohmann::json forwarded_schema(const std::string& provider, const OutputGrammar& g);
// The calls of a finished stream in Message::tool_calls' shape, arguments
// parsed; a call without a name or whose arguments are not a JSON object
// throws IoError naming the provider and the call (never passed on corrupted)
// — but in a reply `cut_off` by max_tokens, a last call whose arguments are
// not JSON at all was cut off with it: it is left out.
nlohmann::json finished_calls(const std::string& provider, const std::vector<PendingCall>& calls, bool cut_off);
// A history call's arguments as a JSON object (templates take objects; some
// callers keep OpenAI's JSON text); throws InvalidArgumentError naming `where`.
nlohmann::json call_arguments(const nlohmann::json& call, const std::string& where);
// Parses an event's JSON; throws IoError naming the provider on bad JSON.
nlohmann::json parse_event_json(const std::string& provider, const std::string& data);

}  // namespace allm::remote
