#pragma once
// Choosing the next token from logits, and deciding when generation stops.
//
// Order of operations (as in transformers): repetition penalty (prompt and
// generated tokens), presence/frequency penalties (generated tokens only, as
// OpenAI defines them), then temperature 0 -> argmax; otherwise temperature,
// top-k, top-p, min-p, and a draw from a seeded RNG (same seed, same logits
// -> same tokens).
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace allm {

struct SamplingParams {
  double temperature = 1.0;         // 0: greedy
  int64_t top_k = 0;                // 0: off
  double top_p = 1.0;               // 1: off
  double min_p = 0.0;               // 0: off
  double repetition_penalty = 1.0;  // 1: off; > 1 discourages repeats
  double presence_penalty = 0.0;    // subtracted once per generated token present
  double frequency_penalty = 0.0;   // subtracted per occurrence in generated tokens
  uint64_t seed = 0;

  // Throws InvalidArgumentError naming the first bad parameter (NaN, negative
  // temperature, top_p outside (0, 1], min_p outside [0, 1], top_k < 0,
  // repetition_penalty <= 0, penalties outside [-2, 2]).
  void validate() const;
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int64_t vocab_size);
  // Picks a token. `logits` (vocab_size values) is modified in place.
  // `prompt` and `generated` feed the penalties. NaN logits count as -inf;
  // +inf logits share all the weight; a row of -inf draws any token uniformly.
  int32_t sample(float* logits, std::span<const int32_t> prompt, std::span<const int32_t> generated);
  void reseed(uint64_t seed) { rng_.seed(seed); }
  const SamplingParams& params() const { return params_; }

 private:
  void apply_penalties(float* logits, std::span<const int32_t> prompt, std::span<const int32_t> generated);
  double uniform();

  SamplingParams params_;
  int64_t vocab_;
  std::mt19937_64 rng_;
  std::vector<uint32_t> stamp_;  // per-token marker, avoids clearing a vocab-sized array per step
  std::vector<uint32_t> count_;  // penalties: occurrences (set before each use); sampling: scratch
  uint32_t epoch_ = 0;
  std::vector<int32_t> order_;  // scratch: candidate ids
  std::vector<float> probs_;    // scratch: candidate probabilities
};

// Stop strings over streamed text: text that might be the start of a stop
// string is held back until it is decided.
class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Feeds new text; returns the text now safe to emit. After a stop string
  // appears, stopped() is true and the returned text ends before it.
  std::string push(std::string_view text);
  // The held-back text when generation ends for another reason.
  std::string flush();
  bool stopped() const { return stopped_; }
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace allm
