#pragma once
// Engine-independent steps of a provider's generate: resolving the sampling
// parameters against the model's and the config's defaults, and fitting the
// prompt into the context window under the request's truncation policy. The
// token loop itself (EOS, stop strings, max_tokens) is the engine's
// allm::generate (allm/generate.hpp); docs/api.md shows the glue.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "allm/generation_defaults.hpp"
#include "allm/provider.hpp"

namespace allm {

// Every parameter decided.
struct ResolvedParams {
  double temperature = 0.7;
  double top_p = 0.95;
  int top_k = 40;
  double min_p = 0.05;
  double repetition_penalty = 1.0;
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  int64_t seed = -1;  // -1: draw a random seed per request
  int max_tokens = 512;
  std::vector<std::string> stop;
  bool ignore_eos = false;
};

// The model's generation_config.json values as GenerationParams (do_sample
// false becomes temperature 0).
GenerationParams params_from_model_defaults(const GenerationDefaults& defaults);
// request > model > config > the ResolvedParams defaults; the result is validated.
ResolvedParams resolve_generation_params(const GenerationParams& request, const GenerationParams& model,
                                         const GenerationParams& config);

// Fits a conversation into `context_length` tokens, leaving `reserve_tokens`
// for the reply. `tokenize` renders messages to prompt ids (template +
// tokenizer). `keep_prefix` tokens (e.g. BOS) survive truncate_left.
// error: ContextWindowError with the counts; drop_oldest: removes the oldest
// non-system turns (never the last message) until it fits, else
// ContextWindowError; truncate_left: keeps the prefix and the newest tokens.
// `messages` is updated to what was actually used (drop_oldest).
std::vector<TokenId> fit_to_context(std::vector<Message>& messages, TruncationPolicy policy,
                                    size_t context_length, size_t reserve_tokens,
                                    const std::function<std::vector<TokenId>(const std::vector<Message>&)>& tokenize,
                                    size_t keep_prefix = 0);

}  // namespace allm
