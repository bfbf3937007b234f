// The Ollama chat API (/api/chat, NDJSON ending in a line with "done": true
// that carries the counts and durations in nanoseconds).
#include "allm/error.hpp"
#include "api_dialect.hpp"

namespace allm::remote {

namespace {

class OllamaDialect : public ApiDialect {
 public:
  ProviderDefaults defaults() const override { return {"ollama", "http://127.0.0.1:11434", "OLLAMA_HOST", "", false}; }
  EventStream::Framing framing() const override { return EventStream::Framing::ndjson; }
  std::string chat_url(const RemoteSettings& s) const override { return s.base_url + "/api/chat"; }
  std::string models_url(const RemoteSettings& s) const override { return s.base_url + "/api/tags"; }
  std::vector<std::string> auth_headers(const RemoteSettings& s) const override {
    if (s.api_key.empty()) return {};
    return {"Authorization: Bearer " + s.api_key};  // for Ollama behind an authenticating proxy
  }

  nlohmann::json request_body(const PreparedRequest& r, const std::string& model,
                              std::vector<std::string>& unsupported) const override {
    nlohmann::json messages = nlohmann::json::array();
    for (size_t i = 0; i < r.messages.size(); ++i) {
      const Message& msg = r.messages[i];
      nlohmann::json m = {{"role", msg.role}, {"content", msg.content}};
      // Ollama takes a call's arguments as an object, and names a tool result's tool.
      if (!msg.tool_calls.empty()) {
        nlohmann::json calls = nlohmann::json::array();
        for (size_t k = 0; k < msg.tool_calls.size(); ++k) {
          const auto& c = msg.tool_calls[k];
          const auto& f = c.contains("function") ? c["function"] : c;
          calls.push_back({{"function", {{"name", f.value("name", "")},
                                         {"arguments", call_arguments(c, "messages[" + std::to_string(i) +
                                                                             "].tool_calls[" + std::to_string(k) + "]")}}}});
        }
        m["tool_calls"] = std::move(calls);
      }
      if (msg.role == "tool" && !msg.name.empty()) m["tool_name"] = msg.name;
      nlohmann::json images = nlohmann::json::array();
      for (const auto& img : r.images)
        if (img.message_index == i) images.push_back(base64(read_file_bytes(img.media.source)));
      if (!images.empty()) m["images"] = images;
      messages.push_back(m);
    }
    nlohmann::json options = nlohmann::json::object();
    const GenerationParams& p = r.params;
    if (p.temperature) options["temperature"] = *p.temperature;
    if (p.top_p) options["top_p"] = *p.top_p;
    if (p.top_k) options["top_k"] = *p.top_k;
    if (p.min_p) options["min_p"] = *p.min_p;
    if (p.repetition_penalty) options["repeat_penalty"] = *p.repetition_penalty;
    if (p.presence_penalty) options["presence_penalty"] = *p.presence_penalty;
    if (p.frequency_penalty) options["frequency_penalty"] = *p.frequency_penalty;
    if (p.seed && *p.seed >= 0) options["seed"] = *p.seed;
    if (p.max_tokens) options["num_predict"] = *p.max_tokens;
    if (p.stop) options["stop"] = *p.stop;
    if (p.ignore_eos) unsupported.push_back("ignore_eos");
    nlohmann::json body = {{"model", model}, {"messages", messages}, {"stream", true}};
    if (!options.empty()) body["options"] = options;
    if (r.tools.is_array() && !r.tools.empty()) body["tools"] = r.tools;
    if (forced_tool(r.tool_choice))  // never dropped silently: the reply might not be a call
      throw UnsupportedError("ollama: the Ollama chat API has no tool_choice; a tool call cannot be forced");
    if (r.grammar) body["format"] = forwarded_schema("ollama", *r.grammar);
    return body;
  }

  std::string on_event(const std::string&, const std::string& data, StreamState& st) const override {
    const auto j = parse_event_json("ollama", data);
    if (j.contains("error")) throw IoError("ollama: the stream reported an error: " + server_message(data));
    std::string text;
    if (j.contains("message") && j["message"].is_object() && j["message"].contains("content") &&
        j["message"]["content"].is_string())
      text = j["message"]["content"].get<std::string>();
    if (j.contains("message") && j["message"].is_object()) {
      const auto& msg = j["message"];
      if (msg.contains("thinking") && msg["thinking"].is_string()) st.reasoning += msg["thinking"].get<std::string>();
      if (msg.contains("tool_calls") && msg["tool_calls"].is_array())
        for (const auto& tc : msg["tool_calls"]) {  // each call arrives whole
          if (!tc.is_object() || !tc.contains("function") || !tc["function"].is_object()) continue;
          const auto& f = tc["function"];
          PendingCall& call = st.call_at(st.calls.size());
          call.id = tc.value("id", "");
          call.name = f.value("name", "");
          if (f.contains("arguments"))
            call.arguments = f["arguments"].is_string() ? f["arguments"].get<std::string>() : f["arguments"].dump();
        }
    }
    if (j.value("done", false)) {
      st.complete = true;
      const std::string f = j.value("done_reason", std::string("stop"));
      st.finish_reason = f == "length" ? finish_reason::length : f == "stop" ? finish_reason::stop : f;
      st.usage.prompt_tokens = j.value("prompt_eval_count", int64_t{0});
      st.usage.completion_tokens = j.value("eval_count", int64_t{0});
      st.usage.total_tokens = st.usage.prompt_tokens + st.usage.completion_tokens;
      st.server_prompt_ms = j.value("prompt_eval_duration", 0.0) / 1e6;
      st.server_decode_ms = j.value("eval_duration", 0.0) / 1e6;
      st.server_load_ms = j.value("load_duration", 0.0) / 1e6;
    }
    return text;
  }

  std::vector<std::string> model_ids(const nlohmann::json& body) const override {
    std::vector<std::string> ids;
    if (body.contains("models") && body["models"].is_array())
      for (const auto& m : body["models"])
        if (m.is_object() && m.contains("name") && m["name"].is_string()) ids.push_back(m["name"].get<std::string>());
    return ids;
  }
  std::vector<std::string> supported_params() const override {
    return {"temperature", "top_p",  "top_k",      "min_p", "repetition_penalty", "presence_penalty",
            "frequency_penalty", "seed", "max_tokens", "stop"};
  }
};

}  // namespace

const ApiDialect& ollama_dialect() {
  static const OllamaDialect d;
  return d;
}

}  // namespace allm::remote
