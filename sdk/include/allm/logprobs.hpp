#pragma once
// Log-probabilities of generated tokens (OpenAI's logprobs/top_logprobs):
// the model's own distribution at each step, log-softmax of the raw logits —
// before temperature, penalties, top-k/top-p and grammar masks, which shape
// the sampling, not the model's belief.
#include <cstdint>
#include <utility>
#include <vector>

namespace allm {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;                           // natural log
  std::vector<std::pair<int32_t, float>> top;  // the most likely tokens and theirs, most likely first
};

// The most alternatives a request may ask for (OpenAI allows 20).
inline constexpr int kMaxTopLogprobs = 20;

// `token`'s log-probability under softmax(logits) and the `top` most likely
// tokens (ties: the lower id first).
TokenLogprob token_logprob(const float* logits, int64_t vocab, int32_t token, int top);

}  // namespace allm
