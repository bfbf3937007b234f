// Requests, responses and capabilities: validation and JSON forms.
#include "allm/error.hpp"
#include "allm/provider.hpp"

namespace allm {

using nlohmann::json;

namespace {

const std::string& require_string(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) throw InvalidArgumentError(where + "." + key + ": missing");
  if (!it->is_string()) throw InvalidArgumentError(where + "." + key + ": expected a string");
  return it->get_ref<const std::string&>();
}

std::vector<std::filesystem::path> read_paths(const json& j, const std::string& where) {
  if (!j.is_array()) throw InvalidArgumentError(where + ": expected an array of file paths");
  std::vector<std::filesystem::path> out;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) throw InvalidArgumentError(where + "[" + std::to_string(i) + "]: expected a string");
    out.emplace_back(j[i].get<std::string>());
  }
  return out;
}

json paths_json(const std::vector<std::filesystem::path>& paths) {
  json a = json::array();
  for (auto& p : paths) a.push_back(p.string());
  return a;
}

std::vector<size_t> read_offsets(const json& j, const std::string& where) {
  if (!j.is_array()) throw InvalidArgumentError(where + ": expected an array of byte offsets");
  std::vector<size_t> out;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number_unsigned())
      throw InvalidArgumentError(where + "[" + std::to_string(i) + "]: expected a byte offset (an integer >= 0)");
    out.push_back(j[i].get<size_t>());
  }
  return out;
}

// Offsets of attachments in `text`: one each, in order, within it, never inside a character.
void check_offsets(const std::vector<size_t>& offsets, size_t attachments, const std::string& text,
                   const std::string& where) {
  if (offsets.empty()) return;
  if (offsets.size() != attachments)
    throw InvalidArgumentError(where + ": " + std::to_string(offsets.size()) + " offsets for " +
                               std::to_string(attachments) + " attached file(s); give one per file");
  for (size_t i = 0; i < offsets.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (offsets[i] > text.size())
      throw InvalidArgumentError(at + ": offset " + std::to_string(offsets[i]) + " is past the text's end (" +
                                 std::to_string(text.size()) + " bytes)");
    if (i > 0 && offsets[i] < offsets[i - 1])
      throw InvalidArgumentError(at + ": offsets must not decrease (the files go in the order given)");
    if (offsets[i] < text.size() && (static_cast<unsigned char>(text[offsets[i]]) & 0xC0) == 0x80)
      throw InvalidArgumentError(at + ": offset " + std::to_string(offsets[i]) + " is inside a UTF-8 character");
  }
}

bool known_role(const std::string& r) { return r == "system" || r == "user" || r == "assistant" || r == "tool"; }

}  // namespace

json Message::to_json() const {
  json j = {{"role", role}, {"content", content}};
  if (!attachments.empty()) j["attachments"] = paths_json(attachments);
  if (!attachment_offsets.empty()) j["attachment_offsets"] = attachment_offsets;
  if (!tool_calls.empty()) j["tool_calls"] = tool_calls;
  if (!tool_call_id.empty()) j["tool_call_id"] = tool_call_id;
  if (!name.empty()) j["name"] = name;
  return j;
}

Message Message::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw InvalidArgumentError(where + ": expected an object with role and content");
  Message m;
  m.role = require_string(j, "role", where);
  m.content = require_string(j, "content", where);
  if (auto it = j.find("attachments"); it != j.end()) m.attachments = read_paths(*it, where + ".attachments");
  if (auto it = j.find("attachment_offsets"); it != j.end())
    m.attachment_offsets = read_offsets(*it, where + ".attachment_offsets");
  check_offsets(m.attachment_offsets, m.attachments.size(), m.content, where + ".attachment_offsets");
  if (auto it = j.find("tool_calls"); it != j.end()) m.tool_calls = *it;
  if (j.contains("tool_call_id")) m.tool_call_id = require_string(j, "tool_call_id", where);
  if (j.contains("name")) m.name = require_string(j, "name", where);
  for (auto& [key, v] : j.items())
    if (key != "role" && key != "content" && key != "attachments" && key != "attachment_offsets" &&
        key != "tool_calls" && key != "tool_call_id" && key != "name")
      throw InvalidArgumentError(where + "." + key + ": unknown message field");
  return m;
}

void GenerateRequest::validate() const {
  if (prompt && !messages.empty())
    throw InvalidArgumentError("request: give either prompt or messages, not both");
  if (!prompt && messages.empty()) throw InvalidArgumentError("request: needs a prompt or at least one message");
  bool has_system_message = false;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    const std::string at = "request.messages[" + std::to_string(i) + "]";
    if (!known_role(m.role))
      throw InvalidArgumentError(at + ".role: unknown role '" + m.role + "' (expected system, user, assistant or tool)");
    if (!m.tool_calls.is_array()) throw InvalidArgumentError(at + ".tool_calls: expected an array");
    if (!m.tool_calls.empty() && m.role != "assistant")
      throw InvalidArgumentError(at + ".tool_calls: only assistant messages make tool calls");
    for (size_t k = 0; k < m.tool_calls.size(); ++k) {
      const json& c = m.tool_calls[k];
      const std::string ck = at + ".tool_calls[" + std::to_string(k) + "]";
      if (!c.is_object() || !c.contains("function") || !c["function"].is_object() ||
          !c["function"].contains("name") || !c["function"]["name"].is_string())
        throw InvalidArgumentError(ck + ": expected {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}");
    }
    if (m.role == "system") {
      if (i != 0) throw InvalidArgumentError(at + ": a system message must come first");
      has_system_message = true;
      if (!m.attachments.empty()) throw InvalidArgumentError(at + ".attachments: system messages take no files");
    }
    check_offsets(m.attachment_offsets, m.attachments.size(), m.content, at + ".attachment_offsets");
  }
  if (system_prompt && has_system_message)
    throw InvalidArgumentError("request: system_prompt given and messages[0] is a system message; use one");
  if (!files.empty() && !prompt) {
    bool any_user = false;
    for (auto& m : messages) any_user = any_user || m.role == "user";
    if (!any_user) throw InvalidArgumentError("request.files: there is no user message to attach them to");
  }
  if (!file_offsets.empty()) {
    const Message* turn = nullptr;  // the turn the files join
    for (auto it = messages.rbegin(); it != messages.rend() && !turn; ++it)
      if (it->role == "user") turn = &*it;
    const std::string& text = prompt ? *prompt : turn ? turn->content : std::string();
    if (turn && !turn->attachments.empty())
      throw InvalidArgumentError("request.file_offsets: the last user message has attachments of its own; "
                                 "give the files' places there (attachment_offsets)");
    check_offsets(file_offsets, files.size(), text, "request.file_offsets");
  }
  if (!tools.is_array()) throw InvalidArgumentError("request.tools: expected an array of tool specs");
  for (size_t i = 0; i < tools.size(); ++i)
    if (!tools[i].is_object())
      throw InvalidArgumentError("request.tools[" + std::to_string(i) + "]: expected an object");
  if (!tool_choice.is_null()) {
    const bool word = tool_choice.is_string() && (tool_choice == "auto" || tool_choice == "none" || tool_choice == "required");
    const bool named = tool_choice.is_object() && tool_choice.value("type", json()) == "function" &&
                       tool_choice.contains("function") && tool_choice["function"].is_object() &&
                       tool_choice["function"].contains("name") && tool_choice["function"]["name"].is_string();
    if (!word && !named)
      throw InvalidArgumentError("request.tool_choice: expected \"auto\", \"none\", \"required\" or "
                                 "{\"type\": \"function\", \"function\": {\"name\": ...}}, got " + tool_choice.dump());
    if ((named || tool_choice == "required") && tools.empty())
      throw InvalidArgumentError("request.tool_choice: forces a tool call, but the request has no tools");
    if (named) {
      const std::string name = tool_choice["function"]["name"].get<std::string>();
      bool found = false;
      for (const auto& t : tools) {
        const json& f = t.contains("function") ? t["function"] : t;
        found = found || (f.is_object() && f.value("name", json()) == name);
      }
      if (!found) throw InvalidArgumentError("request.tool_choice: the function '" + name + "' is not among the tools");
    }
  }
  params.validate("request.params");
  if (logprobs && (*logprobs < 0 || *logprobs > kMaxTopLogprobs))
    throw InvalidArgumentError("request.logprobs: expected 0.." + std::to_string(kMaxTopLogprobs) +
                               " alternatives, got " + std::to_string(*logprobs));
}

std::optional<std::string> forced_tool(const json& tool_choice) {
  if (tool_choice.is_string() && tool_choice == "required") return std::string();
  if (tool_choice.is_object() && tool_choice.contains("function") && tool_choice["function"].is_object())
    return tool_choice["function"].value("name", std::string());
  return std::nullopt;
}

OutputGrammar OutputGrammar::from_json(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string() || !j.contains("source") ||
      !j["source"].is_string() || j.size() != 2)
    throw InvalidArgumentError(where + ": expected {\"kind\": \"json_schema\"|\"gbnf\"|\"regex\"|\"tool_calls\", \"source\": string}");
  OutputGrammar g{j["kind"].get<std::string>(), j["source"].get<std::string>()};
  if (g.kind != "json_schema" && g.kind != "gbnf" && g.kind != "regex" && g.kind != "tool_calls")
    throw InvalidArgumentError(where + ".kind: expected json_schema, gbnf, regex or tool_calls, got '" + g.kind + "'");
  return g;
}

json OutputGrammar::to_json() const { return json{{"kind", kind}, {"source", source}}; }

GenerateRequest GenerateRequest::from_json(const json& j) {
  if (!j.is_object()) throw InvalidArgumentError("request: expected a JSON object");
  GenerateRequest r;
  for (auto& [key, v] : j.items()) {
    const std::string at = "request." + key;
    if (key == "messages") {
      if (!v.is_array()) throw InvalidArgumentError(at + ": expected an array");
      for (size_t i = 0; i < v.size(); ++i) r.messages.push_back(Message::from_json(v[i], at + "[" + std::to_string(i) + "]"));
    } else if (key == "prompt") {
      if (!v.is_string()) throw InvalidArgumentError(at + ": expected a string");
      r.prompt = v.get<std::string>();
    } else if (key == "system_prompt") {
      if (!v.is_string()) throw InvalidArgumentError(at + ": expected a string");
      r.system_prompt = v.get<std::string>();
    } else if (key == "files") {
      r.files = read_paths(v, at);
    } else if (key == "file_offsets") {
      r.file_offsets = read_offsets(v, at);
    } else if (key == "params") {
      r.params = GenerationParams::from_json(v, at);
    } else if (key == "tools") {
      r.tools = v;
    } else if (key == "tool_choice") {
      r.tool_choice = v;
    } else if (key == "grammar") {
      r.grammar = OutputGrammar::from_json(v, at);
    } else if (key == "stream") {
      if (!v.is_boolean()) throw InvalidArgumentError(at + ": expected true or false");
      r.stream = v.get<bool>();
    } else if (key == "truncation") {
      if (!v.is_string()) throw InvalidArgumentError(at + ": expected a string");
      r.truncation = truncation_policy_from_name(v.get<std::string>());
    } else if (key == "model") {
      if (!v.is_string()) throw InvalidArgumentError(at + ": expected a string");
      r.model = v.get<std::string>();
    } else if (key == "logprobs") {
      if (!v.is_number_integer()) throw InvalidArgumentError(at + ": expected an integer");
      r.logprobs = v.get<int>();
    } else {
      throw InvalidArgumentError(at + ": unknown request field");
    }
  }
  r.validate();
  return r;
}

json GenerateRequest::to_json() const {
  json j = json::object();
  if (!messages.empty()) {
    j["messages"] = json::array();
    for (auto& m : messages) j["messages"].push_back(m.to_json());
  }
  if (prompt) j["prompt"] = *prompt;
  if (system_prompt) j["system_prompt"] = *system_prompt;
  if (!files.empty()) j["files"] = paths_json(files);
  if (!file_offsets.empty()) j["file_offsets"] = file_offsets;
  j["params"] = params.to_json();
  j["tools"] = tools;
  if (!tool_choice.is_null()) j["tool_choice"] = tool_choice;
  if (grammar) j["grammar"] = grammar->to_json();
  j["stream"] = stream;
  j["truncation"] = truncation_policy_name(truncation);
  if (!model.empty()) j["model"] = model;
  if (logprobs) j["logprobs"] = *logprobs;
  return j;
}

json GenerateResponse::to_json() const {
  json j = {{"text", text},
          {"model", model},
          {"finish_reason", finish_reason},
          {"usage",
           {{"prompt_tokens", usage.prompt_tokens},
            {"completion_tokens", usage.completion_tokens},
            {"total_tokens", usage.total_tokens}}},
          {"timings",
           {{"load_ms", timings.load_ms},
            {"prompt_ms", timings.prompt_ms},
            {"decode_ms", timings.decode_ms},
            {"prefill_tokens_per_s", timings.prefill_tokens_per_s},
            {"decode_tokens_per_s", timings.decode_tokens_per_s}}},
          {"token_ids", token_ids}};
  if (seed) j["seed"] = *seed;
  if (dropped_messages) j["dropped_messages"] = dropped_messages;
  if (!tool_calls.empty()) j["tool_calls"] = tool_calls;
  if (!reasoning.empty()) j["reasoning"] = reasoning;
  if (!logprobs.empty()) {  // [{"token": id, "logprob": x, "top": [[id, x], ...]}]
    json lps = json::array();
    for (const auto& lp : logprobs) {
      json top = json::array();
      for (const auto& [id, x] : lp.top) top.push_back({id, x});
      lps.push_back({{"token", lp.token}, {"logprob", lp.logprob}, {"top", top}});
    }
    j["logprobs"] = lps;
  }
  return j;
}

json Capabilities::to_json() const {
  return {{"streaming", streaming},     {"system_prompt", system_prompt}, {"async", async},
          {"tool_use", tool_use},       {"vision", vision},               {"cache_state", cache_state},
          {"max_context", max_context}, {"model", model},                 {"model_info", model_info}};
}

}  // namespace allm
