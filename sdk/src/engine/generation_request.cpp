#include "allm/generation_request.hpp"

#include <algorithm>
#include <random>

namespace allm {

uint64_t draw_seed(int64_t seed) {
  if (seed >= 0) return static_cast<uint64_t>(seed);
  std::random_device rd;
  return ((static_cast<uint64_t>(rd()) << 32) ^ rd()) & ((uint64_t{1} << 53) - 1);
}

std::vector<int32_t> eos_ids_of(const GenerationDefaults& generation, const Tokenizer* tokenizer) {
  std::vector<int32_t> ids = generation.eos_token_ids;
  if (ids.empty() && tokenizer && tokenizer->eos_id()) ids.push_back(*tokenizer->eos_id());
  return ids;
}

GenerationRequest generation_request(const ResolvedParams& params, std::vector<int32_t> prompt,
                                     std::vector<int32_t> eos_ids, int64_t context_length) {
  GenerationRequest gen;
  gen.sampling.temperature = params.temperature;
  gen.sampling.top_k = params.top_k;
  gen.sampling.top_p = params.top_p;
  gen.sampling.min_p = params.min_p;
  gen.sampling.repetition_penalty = params.repetition_penalty;
  gen.sampling.presence_penalty = params.presence_penalty;
  gen.sampling.frequency_penalty = params.frequency_penalty;
  gen.sampling.seed = draw_seed(params.seed);
  gen.sampling.validate();
  gen.max_tokens = params.max_tokens;
  if (context_length > 0)
    gen.max_tokens = std::min<int64_t>(gen.max_tokens, context_length - static_cast<int64_t>(prompt.size()));
  gen.prompt = std::move(prompt);
  gen.eos_ids = std::move(eos_ids);
  gen.ignore_eos = params.ignore_eos;
  gen.stop = params.stop;
  return gen;
}

}  // namespace allm
