#include "logprobs_json.hpp"

#include "allm/error.hpp"

#include "api_error.hpp"
#include "json_fields.hpp"

namespace allm::server {

using nlohmann::json;

namespace {

// A model's vocabulary may be padded past its tokenizer's (Qwen2.5-VL: 151936
// rows for 151665 tokens); such an id has no text, as transformers decodes it.
std::string piece(Provider& p, int32_t id) {
  try {
    return p.detokenize({id}, false);
  } catch (const InvalidArgumentError&) {
    return "";
  }
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

// json's dump throws on invalid UTF-8 (a byte-level token holding part of a
// character): those pieces are sent with U+FFFD, their bytes exact.
std::string safe_text(const std::string& s) {
  return json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

// [{token, logprob, bytes, top_logprobs}] (OpenAI chat's "content", Ollama's "logprobs").
json token_entries(Provider& tokenizer, const std::vector<TokenLogprob>& lps) {
  json content = json::array();
  for (const auto& lp : lps) {
    const std::string text = piece(tokenizer, lp.token);
    json top = json::array();
    for (const auto& [id, logprob] : lp.top) {
      const std::string t = piece(tokenizer, id);
      top.push_back({{"token", safe_text(t)}, {"logprob", logprob}, {"bytes", bytes_of(t)}});
    }
    content.push_back({{"token", safe_text(text)}, {"logprob", lp.logprob}, {"bytes", bytes_of(text)}, {"top_logprobs", top}});
  }
  return content;
}

}  // namespace

json chat_logprobs_json(Provider& tokenizer, const std::vector<TokenLogprob>& lps) {
  return {{"content", token_entries(tokenizer, lps)}, {"refusal", nullptr}};
}

json ollama_logprobs_json(Provider& tokenizer, const std::vector<TokenLogprob>& lps) {
  return token_entries(tokenizer, lps);
}

std::optional<int> read_ollama_logprobs(const json& body) {
  const bool on = opt_bool(body, "logprobs").value_or(false);
  auto top = opt_int(body, "top_logprobs");
  if (top && (*top < 0 || *top > kMaxTopLogprobs))
    throw bad_request("'top_logprobs' must be between 0 and " + std::to_string(kMaxTopLogprobs), "top_logprobs");
  if (!on) return std::nullopt;
  return static_cast<int>(top.value_or(0));
}

json completion_logprobs_json(Provider& tokenizer, const std::vector<TokenLogprob>& lps, size_t offset) {
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(), text_offset = json::array();
  for (const auto& lp : lps) {
    const std::string text = piece(tokenizer, lp.token);
    tokens.push_back(safe_text(text));
    token_logprobs.push_back(lp.logprob);
    json alternatives = json::object();
    for (const auto& [id, logprob] : lp.top) alternatives[safe_text(piece(tokenizer, id))] = logprob;
    top.push_back(alternatives);
    text_offset.push_back(offset);
    offset += text.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", text_offset}};
}

}  // namespace allm::server
