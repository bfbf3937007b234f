#pragma once
// The APIs' logprobs objects from the engine's per-token log-probabilities:
// OpenAI chat completions {"content": [{token, logprob, bytes, top_logprobs}]},
// (legacy) completions {tokens, token_logprobs, top_logprobs, text_offset},
// Ollama [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}].
// Token texts come from the model's tokenizer (prompt inspection).
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/logprobs.hpp"
#include "allm/provider.hpp"

namespace allm::server {

nlohmann::json chat_logprobs_json(Provider& tokenizer, const std::vector<TokenLogprob>& lps);
// `offset`: the text length before the first token (text_offset counts from the reply's start).
nlohmann::json completion_logprobs_json(Provider& tokenizer, const std::vector<TokenLogprob>& lps, size_t offset = 0);

nlohmann::json ollama_logprobs_json(Provider& tokenizer, const std::vector<TokenLogprob>& lps);

// Ollama's request fields: "logprobs": true, "top_logprobs": N (0..20).
std::optional<int> read_ollama_logprobs(const nlohmann::json& body);

}  // namespace allm::server
