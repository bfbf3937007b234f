#pragma once
// The one mapping from resolved generation parameters to the engine's
// GenerationRequest. Every way of running goes through it (the local
// provider behind `allm run "text"`, chat and serve; `allm run
// --prompt-tokens`), so the same flags, defaults and seed sample the same
// tokens whichever front end asked.
#include <cstdint>
#include <vector>

#include "allm/checkpoint.hpp"
#include "allm/generate.hpp"
#include "allm/provider/generation.hpp"
#include "allm/tokenizer.hpp"

namespace allm {

// The sampler's seed: `seed` itself, or for -1 one drawn at random. A drawn
// seed stays below 2^53: exact as a JSON number in every client (JavaScript,
// jq) and as `--seed N`, so the reported seed reproduces the sample.
uint64_t draw_seed(int64_t seed);

// The ids that end a reply: generation_config.json's, else the tokenizer's
// EOS (when a tokenizer is given and has one).
std::vector<int32_t> eos_ids_of(const GenerationDefaults& generation, const Tokenizer* tokenizer);

// `prompt` under `params`: sampling (seed drawn), stop strings, ignore_eos,
// `eos_ids`, and max_tokens capped to the room `context_length` leaves after
// the prompt (0: no cap). The stream callbacks and `cached_prefix` are the
// caller's to fill.
GenerationRequest generation_request(const ResolvedParams& params, std::vector<int32_t> prompt,
                                     std::vector<int32_t> eos_ids, int64_t context_length);

}  // namespace allm
