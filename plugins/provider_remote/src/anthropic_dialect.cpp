// The Anthropic Messages API (/v1/messages, SSE with typed events ending in
// message_stop). System turns go to the top-level "system" field.
#include "allm/error.hpp"
#include "api_dialect.hpp"

namespace allm::remote {

namespace {

// Messages requires max_tokens; this is what is sent when the request has none.
constexpr int kDefaultMaxTokens = 4096;

class AnthropicDialect : public ApiDialect {
 public:
  ProviderDefaults defaults() const override {
    return {"anthropic", "https://api.anthropic.com", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", true};
  }
  EventStream::Framing framing() const override { return EventStream::Framing::sse; }
  std::string chat_url(const RemoteSettings& s) const override { return s.base_url + "/v1/messages"; }
  std::string models_url(const RemoteSettings& s) const override { return s.base_url + "/v1/models"; }
  std::vector<std::string> auth_headers(const RemoteSettings& s) const override {
    std::vector<std::string> h = {"anthropic-version: 2023-06-01"};
    if (!s.api_key.empty()) h.push_back("x-api-key: " + s.api_key);
    return h;
  }

  nlohmann::json request_body(const PreparedRequest& r, const std::string& model,
                               std::vector<std::string>& unsupported) const override {
    std::string system;
    nlohmann::json messages = nlohmann::json::array();
    for (size_t i = 0; i < r.messages.size(); ++i) {
      const Message& m = r.messages[i];
      if (m.role == "system") {
        system += (system.empty() ? "" : "\n\n") + m.content;
        continue;
      }
      nlohmann::json parts = message_parts(
          r, i,
          [](const PreparedImage& img) {
            return nlohmann::json{{"type", "image"},
                                  {"source",
                                   {{"type", "base64"},
                                    {"media_type", img.media.mime},
                                    {"data", base64(read_file_bytes(img.media.source))}}}};
          },
          [](const std::string& text) { return nlohmann::json{{"type", "text"}, {"text", text}}; });
      // Messages knows user and assistant turns only. A tool result is a
      // tool_result block of the user's turn (consecutive results share one);
      // an assistant's calls are its tool_use blocks.
      const std::string at = "messages[" + std::to_string(i) + "]";
      if (m.role == "tool") {
        if (m.tool_call_id.empty())
          throw InvalidArgumentError(at + ".tool_call_id: the Anthropic API needs the id of the call a tool result answers");
        nlohmann::json block = {{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", m.content}};
        const bool joins = !messages.empty() && messages.back()["role"] == "user" &&
                           messages.back()["content"].is_array() && !messages.back()["content"].empty() &&
                           messages.back()["content"].back().value("type", "") == "tool_result";
        if (joins) messages.back()["content"].push_back(std::move(block));
        else messages.push_back({{"role", "user"}, {"content", nlohmann::json::array({std::move(block)})}});
        continue;
      }
      const std::string role = m.role == "assistant" ? "assistant" : "user";
      if (role == "assistant" && !m.tool_calls.empty()) {
        if (!m.content.empty()) parts.push_back({{"type", "text"}, {"text", m.content}});
        for (size_t k = 0; k < m.tool_calls.size(); ++k) {
          const auto& c = m.tool_calls[k];
          const auto& f = c.contains("function") ? c["function"] : c;
          parts.push_back({{"type", "tool_use"},
                           {"id", c.value("id", "toolu_" + std::to_string(i) + "_" + std::to_string(k))},
                           {"name", f.value("name", "")},
                           {"input", call_arguments(c, at + ".tool_calls[" + std::to_string(k) + "]")}});
        }
        messages.push_back({{"role", role}, {"content", parts}});
      } else if (parts.empty()) {
        messages.push_back({{"role", role}, {"content", m.content}});
      } else {
        messages.push_back({{"role", role}, {"content", parts}});
      }
    }
    const GenerationParams& p = r.params;
    nlohmann::json body = {{"model", model},
                           {"messages", messages},
                           {"max_tokens", p.max_tokens.value_or(kDefaultMaxTokens)},
                           {"stream", true}};
    if (!system.empty()) body["system"] = system;
    if (p.temperature) body["temperature"] = *p.temperature;
    if (p.top_p) body["top_p"] = *p.top_p;
    if (p.top_k) body["top_k"] = *p.top_k;
    if (p.stop) body["stop_sequences"] = *p.stop;
    if (r.grammar)  // a constraint is never dropped: refused rather than sent unconstrained
      throw UnsupportedError("anthropic: the Anthropic API has no constrained output (JSON Schema or grammar)");
    if (p.min_p) unsupported.push_back("min_p");
    if (p.repetition_penalty) unsupported.push_back("repetition_penalty");
    if (p.presence_penalty) unsupported.push_back("presence_penalty");
    if (p.frequency_penalty) unsupported.push_back("frequency_penalty");
    if (p.seed) unsupported.push_back("seed");
    if (p.ignore_eos) unsupported.push_back("ignore_eos");
    if (r.tools.is_array() && !r.tools.empty()) {
      nlohmann::json tools = nlohmann::json::array();
      for (const auto& t : r.tools) {
        const auto& f = t.contains("function") ? t["function"] : t;
        tools.push_back({{"name", f.value("name", "")},
                         {"description", f.value("description", "")},
                         {"input_schema", f.value("parameters", nlohmann::json{{"type", "object"}})}});
      }
      body["tools"] = tools;
      if (const auto forced = forced_tool(r.tool_choice))
        body["tool_choice"] = forced->empty() ? nlohmann::json{{"type", "any"}}
                                              : nlohmann::json{{"type", "tool"}, {"name", *forced}};
      else if (!r.tool_choice.is_null())
        body["tool_choice"] = {{"type", "auto"}};  // "none" left no tools to send
    }
    return body;
  }

  std::string on_event(const std::string& event, const std::string& data, StreamState& st) const override {
    const auto j = parse_event_json("anthropic", data);
    const std::string type = j.value("type", event);
    if (type == "error") throw IoError("anthropic: the stream reported an error: " + server_message(data));
    if (type == "message_start" && j.contains("message") && j["message"].contains("usage")) {
      const auto& u = j["message"]["usage"];
      // input_tokens counts only what was not read from or written to the
      // prompt cache; the prompt is all three.
      st.usage.prompt_tokens = u.value("input_tokens", int64_t{0}) + u.value("cache_read_input_tokens", int64_t{0}) +
                               u.value("cache_creation_input_tokens", int64_t{0});
      st.usage.completion_tokens = u.value("output_tokens", int64_t{0});
    } else if (type == "content_block_start" && j.contains("content_block") && j["content_block"].is_object()) {
      const auto& b = j["content_block"];
      if (b.value("type", "") == "tool_use") {
        // The input arrives as input_json_delta pieces of the same block index.
        PendingCall& call = st.call_at(st.calls.size());
        call.id = b.value("id", "");
        call.name = b.value("name", "");
        st.block_calls[j.value("index", -1)] = st.calls.size() - 1;
      }
    } else if (type == "content_block_delta" && j.contains("delta") && j["delta"].is_object()) {
      const auto& d = j["delta"];
      const std::string dt = d.value("type", "");
      if (dt == "text_delta" && d.contains("text") && d["text"].is_string()) return d["text"].get<std::string>();
      if (dt == "thinking_delta" && d.contains("thinking") && d["thinking"].is_string())
        st.reasoning += d["thinking"].get<std::string>();
      if (dt == "input_json_delta" && d.contains("partial_json") && d["partial_json"].is_string()) {
        const auto it = st.block_calls.find(j.value("index", -1));
        if (it == st.block_calls.end())
          throw IoError("anthropic: an input_json_delta for block " + std::to_string(j.value("index", -1)) +
                        " that did not start as a tool_use block");
        st.calls[it->second].arguments += d["partial_json"].get<std::string>();
      }
    } else if (type == "message_delta") {
      if (j.contains("delta") && j["delta"].contains("stop_reason") && j["delta"]["stop_reason"].is_string()) {
        const std::string f = j["delta"]["stop_reason"].get<std::string>();
        st.finish_reason = f == "max_tokens"                              ? finish_reason::length
                           : f == "end_turn" || f == "stop_sequence"      ? finish_reason::stop
                           : f == "tool_use"                              ? finish_reason::tool_calls
                                                                          : f;
      }
      if (j.contains("usage") && j["usage"].is_object())
        st.usage.completion_tokens = j["usage"].value("output_tokens", st.usage.completion_tokens);
    } else if (type == "message_stop") {
      st.complete = true;
    }
    st.usage.total_tokens = st.usage.prompt_tokens + st.usage.completion_tokens;
    return "";
  }

  std::vector<std::string> model_ids(const nlohmann::json& body) const override {
    std::vector<std::string> ids;
    if (body.contains("data") && body["data"].is_array())
      for (const auto& m : body["data"])
        if (m.is_object() && m.contains("id") && m["id"].is_string()) ids.push_back(m["id"].get<std::string>());
    return ids;
  }
  std::vector<std::string> supported_params() const override {
    return {"temperature", "top_p", "top_k", "max_tokens", "stop"};
  }
};

}  // namespace

const ApiDialect& anthropic_dialect() {
  static const AnthropicDialect d;
  return d;
}

}  // namespace allm::remote
