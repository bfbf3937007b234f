// The OpenAI chat completions API (/v1/chat/completions, SSE with
// "data: [DONE]"), as served by OpenAI, vLLM, llama.cpp, LM Studio and allm.
#include "allm/error.hpp"
#include "api_dialect.hpp"

namespace allm::remote {

namespace {

class OpenAiDialect : public ApiDialect {
 public:
  ProviderDefaults defaults() const override {
    return {"openai", "https://api.openai.com/v1", "OPENAI_BASE_URL", "OPENAI_API_KEY", true};
  }
  EventStream::Framing framing() const override { return EventStream::Framing::sse; }
  std::string chat_url(const RemoteSettings& s) const override { return s.base_url + "/chat/completions"; }
  std::string models_url(const RemoteSettings& s) const override { return s.base_url + "/models"; }
  std::vector<std::string> auth_headers(const RemoteSettings& s) const override {
    if (s.api_key.empty()) return {};
    return {"Authorization: Bearer " + s.api_key};
  }

  nlohmann::json request_body(const PreparedRequest& r, const std::string& model,
                              std::vector<std::string>& unsupported) const override {
    nlohmann::json messages = nlohmann::json::array();
    for (size_t i = 0; i < r.messages.size(); ++i) {
      const Message& m = r.messages[i];
      nlohmann::json parts = message_parts(
          r, i,
          [](const PreparedImage& img) {
            return nlohmann::json{
                {"type", "image_url"},
                {"image_url", {{"url", "data:" + img.media.mime + ";base64," + base64(read_file_bytes(img.media.source))}}}};
          },
          [](const std::string& text) { return nlohmann::json{{"type", "text"}, {"text", text}}; });
      if (parts.empty()) {
        nlohmann::json msg = {{"role", m.role}, {"content", m.content}};
        if (!m.tool_calls.empty()) {  // OpenAI takes a call's arguments as JSON text
          nlohmann::json calls = nlohmann::json::array();
          for (size_t k = 0; k < m.tool_calls.size(); ++k) {
            const auto& c = m.tool_calls[k];
            const std::string at = "messages[" + std::to_string(i) + "].tool_calls[" + std::to_string(k) + "]";
            const auto& f = c.contains("function") ? c["function"] : c;
            calls.push_back({{"id", c.value("id", "call_" + std::to_string(k))},
                             {"type", "function"},
                             {"function", {{"name", f.value("name", "")}, {"arguments", call_arguments(c, at).dump()}}}});
          }
          msg["tool_calls"] = std::move(calls);
        }
        if (!m.tool_call_id.empty()) msg["tool_call_id"] = m.tool_call_id;
        messages.push_back(std::move(msg));
      } else {
        messages.push_back({{"role", m.role}, {"content", parts}});
      }
    }
    nlohmann::json body = {{"model", model},
                           {"messages", messages},
                           {"stream", true},
                           {"stream_options", {{"include_usage", true}}}};
    const GenerationParams& p = r.params;
    if (p.temperature) body["temperature"] = *p.temperature;
    if (p.top_p) body["top_p"] = *p.top_p;
    if (p.presence_penalty) body["presence_penalty"] = *p.presence_penalty;
    if (p.frequency_penalty) body["frequency_penalty"] = *p.frequency_penalty;
    if (p.seed && *p.seed >= 0) body["seed"] = *p.seed;
    if (p.max_tokens) body["max_tokens"] = *p.max_tokens;
    if (p.stop) body["stop"] = *p.stop;
    if (p.top_k) unsupported.push_back("top_k");
    if (p.min_p) unsupported.push_back("min_p");
    if (p.repetition_penalty) unsupported.push_back("repetition_penalty");
    if (p.ignore_eos) unsupported.push_back("ignore_eos");
    if (r.tools.is_array() && !r.tools.empty()) {
      body["tools"] = r.tools;
      if (!r.tool_choice.is_null()) body["tool_choice"] = r.tool_choice;  // the same shape as ours
    }
    // Strict mode: OpenAI then enforces the schema (and refuses one it cannot, a 400).
    if (r.grammar)
      body["response_format"] = {{"type", "json_schema"},
                                 {"json_schema", {{"name", "output"}, {"strict", true},
                                                  {"schema", forwarded_schema("openai", *r.grammar)}}}};
    return body;
  }

  std::string on_event(const std::string&, const std::string& data, StreamState& st) const override {
    if (data == "[DONE]") {
      st.complete = true;
      return "";
    }
    const auto j = parse_event_json("openai", data);
    if (j.contains("error")) throw IoError("openai: the stream reported an error: " + server_message(data));
    std::string text;
    if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) {
      const auto& c = j["choices"][0];
      if (c.contains("delta") && c["delta"].is_object()) {
        const auto& d = c["delta"];
        if (d.contains("content") && d["content"].is_string()) text = d["content"].get<std::string>();
        // reasoning_content: DeepSeek, vLLM, llama.cpp and allm; "reasoning": OpenRouter and Ollama's OpenAI route.
        for (const char* key : {"reasoning_content", "reasoning"})
          if (d.contains(key) && d[key].is_string()) st.reasoning += d[key].get<std::string>();
        if (d.contains("tool_calls") && d["tool_calls"].is_array())
          for (const auto& tc : d["tool_calls"]) {
            if (!tc.is_object()) continue;
            // Pieces of one call share its index; the first carries id and name.
            const size_t index = tc.contains("index") && tc["index"].is_number_unsigned()
                                     ? tc["index"].get<size_t>()
                                     : st.calls.size();
            PendingCall& call = st.call_at(index);
            if (tc.contains("id") && tc["id"].is_string()) call.id = tc["id"].get<std::string>();
            if (tc.contains("function") && tc["function"].is_object()) {
              const auto& f = tc["function"];
              if (f.contains("name") && f["name"].is_string()) call.name += f["name"].get<std::string>();
              if (f.contains("arguments") && f["arguments"].is_string()) call.arguments += f["arguments"].get<std::string>();
            }
          }
      }
      if (c.contains("finish_reason") && c["finish_reason"].is_string()) {
        const std::string f = c["finish_reason"].get<std::string>();
        st.finish_reason = f == "length" ? finish_reason::length : f == "stop" ? finish_reason::stop : f;
      }
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      const auto& u = j["usage"];
      st.usage.prompt_tokens = u.value("prompt_tokens", int64_t{0});
      st.usage.completion_tokens = u.value("completion_tokens", int64_t{0});
      st.usage.total_tokens = u.value("total_tokens", st.usage.prompt_tokens + st.usage.completion_tokens);
    }
    // llama.cpp's and allm's servers add their own timings.
    if (j.contains("timings") && j["timings"].is_object()) {
      st.server_prompt_ms = j["timings"].value("prompt_ms", 0.0);
      st.server_decode_ms = j["timings"].value("predicted_ms", 0.0);
    }
    return text;
  }

  std::vector<std::string> model_ids(const nlohmann::json& body) const override {
    std::vector<std::string> ids;
    if (body.contains("data") && body["data"].is_array())
      for (const auto& m : body["data"])
        if (m.is_object() && m.contains("id") && m["id"].is_string()) ids.push_back(m["id"].get<std::string>());
    return ids;
  }
  std::vector<std::string> supported_params() const override {
    return {"temperature", "top_p", "presence_penalty", "frequency_penalty", "seed", "max_tokens", "stop"};
  }
};

}  // namespace

const ApiDialect& openai_dialect() {
  static const OpenAiDialect d;
  return d;
}

}  // namespace allm::remote
