#pragma once
// Engine-independent pieces of a provider's generation loop: resolving the
// sampling parameters, fitting the prompt into the context window, holding
// back text that may start a stop string, and the token loop itself. An engine
// plugs in "render + tokenize", "next token" and "token -> text" functions.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "allm/checkpoint.hpp"
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

// The model's generation_config.json values as GenerationParams.
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

// Streams text through while withholding any tail that could be the start of
// a stop string; reports the earliest complete match.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Appends `piece`; returns the text now safe to emit. After a match, returns
  // the text before the stop string and matched() is true.
  std::string push(std::string_view piece);
  // End of generation: returns whatever was held back (nothing after a match).
  std::string flush();
  bool matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool matched_ = false;
};

struct DecodeSettings {
  int max_tokens = 512;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  std::vector<TokenId> eos_ids;
};

struct DecodeHooks {
  std::function<TokenId()> next_token;          // samples one token (after prefill)
  std::function<std::string(TokenId)> piece;    // incremental detokenizer push
  std::function<std::string()> finish;          // detokenizer's remaining text (may be null)
};

struct DecodeResult {
  std::string text;
  std::vector<TokenId> token_ids;
  std::string finish_reason;
  double decode_ms = 0;
};

// The token loop: stops on EOS (unless ignore_eos), a stop string, max_tokens
// or cancellation (checked before every token). Emits non-empty deltas.
DecodeResult run_decode_loop(const DecodeSettings& settings, const DecodeHooks& hooks,
                             const StreamCallback& on_delta, const CancellationToken& cancel);

}  // namespace allm
