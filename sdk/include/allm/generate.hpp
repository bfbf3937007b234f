#pragma once
// The token-generation loop shared by the CLI and providers: prefill the
// prompt into a KV cache, then sample token by token until EOS, a stop string,
// max_tokens, the context window, or the caller cancels.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "allm/logprobs.hpp"
#include "allm/model.hpp"
#include "allm/sampling.hpp"

namespace allm {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  // Tokens already in the cache before `prompt` (a reused prefix). They are not
  // fed again, but the repetition penalty sees them as part of the prompt, so a
  // run that reuses a cached prefix samples exactly like one that does not.
  std::vector<int32_t> cached_prefix;
  SamplingParams sampling;
  int64_t max_tokens = 256;
  std::vector<int32_t> eos_ids;
  bool ignore_eos = false;
  std::vector<std::string> stop;  // stop strings; need `token_text`
  // Text of each new token as it streams (e.g. a StreamDecoder's push); may be empty.
  std::function<std::string(int32_t token)> token_text;
  // Called after each token with the text released so far; return false to cancel.
  std::function<bool(int32_t token, const std::string& text)> on_token;
  int64_t prefill_chunk = 512;  // prompt tokens per forward call
  // Runs of `prompt` (indices into it, in order) whose embeddings are given
  // (images); a run is never split across prefill chunks.
  std::vector<SoftTokens> soft_tokens;
  // Adjusts the logits before each token is sampled (constrained decoding sets
  // disallowed tokens to -inf); may be empty.
  std::function<void(float* logits, int64_t vocab)> constrain_logits;
  // >= 0: each sampled token's log-probability (and this many most likely
  // alternatives, at most kMaxTopLogprobs) goes to on_logprob, before
  // on_token, and into the result. -1: none (no extra work per step).
  int top_logprobs = -1;
  std::function<void(const TokenLogprob&)> on_logprob;
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids (EOS included when it ended generation)
  std::string text;             // concatenated released text (stop string excluded)
  std::string finish_reason;    // "stop" (EOS or stop string), "length", "cancelled"
  int64_t prompt_tokens = 0;
  double prefill_ms = 0, decode_ms = 0;
  int64_t decode_steps = 0;  // forward calls after the prompt
  std::vector<TokenLogprob> logprobs;  // one per token, when top_logprobs >= 0
};

// Appends the prompt to `cache` (whatever it already holds is kept as prefix).
GenerationResult generate(Model& model, KVCache& cache, const GenerationRequest& request);

}  // namespace allm
