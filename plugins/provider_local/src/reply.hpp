#pragma once
// The local provider's side of a generation's output: streaming the released
// text to the caller as deltas, and turning the engine's result into the
// provider's GenerateResponse.
#include <cstddef>
#include <string>
#include <vector>

#include "allm/generate.hpp"
#include "allm/grammar.hpp"
#include "allm/provider.hpp"
#include "engine_model.hpp"

namespace allm::local {

// Wires a GenerationRequest's token callbacks to `on_delta`: text as the
// tokenizer releases it, each delta with the ids it came from; a grammar
// matcher (may be null) follows every sampled token. finish() sends the tail
// held back for stop strings. Special tokens in `kept` are written into the
// text (a tool-call format's markers, which the reply parser must see); other
// special tokens are skipped.
class DeltaStream {
 public:
  DeltaStream(const Tokenizer& tokenizer, const StreamCallback& on_delta, const CancellationToken& cancel,
              grammar::Matcher* matcher, std::vector<TokenId> kept = {});
  void attach(GenerationRequest& gen);
  void finish(const GenerationResult& out);

 private:
  const Tokenizer& tokenizer_;
  StreamDecoder decoder_;
  std::vector<TokenId> kept_;
  const StreamCallback& on_delta_;
  const CancellationToken& cancel_;
  grammar::Matcher* matcher_;
  StreamDelta delta_;
  size_t streamed_ = 0;
};

// The response for a finished generation of `prompt_tokens` prompt tokens:
// text, ids (a final EOS and the tokens of a cut stop string left out),
// finish reason, seed, usage and engine timings.
GenerateResponse assemble_response(const EngineModel& model, const GenerationRequest& gen, GenerationResult out,
                                   size_t prompt_tokens);

}  // namespace allm::local
