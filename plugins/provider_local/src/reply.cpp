#include "reply.hpp"

#include <algorithm>

namespace allm::local {

DeltaStream::DeltaStream(const Tokenizer& tokenizer, const StreamCallback& on_delta, const CancellationToken& cancel,
                         grammar::Matcher* matcher, std::vector<TokenId> kept)
    : tokenizer_(tokenizer),
      decoder_(tokenizer, true),
      kept_(std::move(kept)),
      on_delta_(on_delta),
      cancel_(cancel),
      matcher_(matcher) {}

void DeltaStream::attach(GenerationRequest& gen) {
  // An ending EOS is not part of the reply: nor is its log-probability.
  gen.on_logprob = [this, eos = gen.ignore_eos ? std::vector<int32_t>{} : gen.eos_ids](const TokenLogprob& lp) {
    if (std::find(eos.begin(), eos.end(), lp.token) == eos.end()) delta_.logprobs.push_back(lp);
  };
  gen.token_text = [this](int32_t id) {
    if (std::find(kept_.begin(), kept_.end(), id) == kept_.end()) return decoder_.push(id);
    // A kept special token ends whatever the decoder holds and is written as itself.
    std::string text = decoder_.finish();
    decoder_.reset();
    return text + tokenizer_.decode({id}, false);
  };
  gen.on_token = [this](int32_t id, const std::string& text) {
    if (matcher_) matcher_->advance_token(id);  // EOS (no bytes) leaves it as is
    delta_.token_ids.push_back(id);
    if (!text.empty()) {
      delta_.text = text;
      streamed_ += text.size();
      on_delta_(delta_);
      delta_ = {};
    }
    return !cancel_.cancelled();
  };
}

void DeltaStream::finish(const GenerationResult& out) {
  if (out.text.size() > streamed_ || !delta_.token_ids.empty()) {  // held-back tail
    delta_.text = out.text.size() > streamed_ ? out.text.substr(streamed_) : std::string();
    on_delta_(delta_);
    delta_ = {};
  }
}

GenerateResponse assemble_response(const EngineModel& model, const GenerationRequest& gen, GenerationResult out,
                                   size_t prompt_tokens) {
  GenerateResponse r;
  r.model = model.id;
  r.text = std::move(out.text);
  r.finish_reason = out.finish_reason;
  r.token_ids = out.tokens;
  r.logprobs = std::move(out.logprobs);
  r.seed = gen.sampling.seed;
  const bool ended_on_eos = out.finish_reason == finish_reason::stop && !gen.ignore_eos && !r.token_ids.empty() &&
                            std::find(gen.eos_ids.begin(), gen.eos_ids.end(), r.token_ids.back()) != gen.eos_ids.end();
  if (ended_on_eos) {
    r.token_ids.pop_back();
  } else if (out.finish_reason == finish_reason::stop && !gen.stop.empty()) {
    // A stop string ended the reply and `text` leaves it out: so do the ids
    // and the count. Keep the tokens up to the one completing the kept text.
    StreamDecoder recount(*model.tokenizer, true);
    size_t covered = 0, keep = 0;
    while (keep < r.token_ids.size() && covered < r.text.size()) covered += recount.push(r.token_ids[keep++]).size();
    r.token_ids.resize(keep);
  }
  if (r.logprobs.size() > r.token_ids.size()) r.logprobs.resize(r.token_ids.size());  // EOS / stop string
  r.usage.prompt_tokens = static_cast<int64_t>(prompt_tokens);
  r.usage.completion_tokens = static_cast<int64_t>(r.token_ids.size());
  r.usage.total_tokens = r.usage.prompt_tokens + r.usage.completion_tokens;
  r.timings.prompt_ms = out.prefill_ms;
  r.timings.decode_ms = out.decode_ms;
  r.timings.prefill_tokens_per_s = out.prefill_ms > 0 ? out.prompt_tokens * 1000.0 / out.prefill_ms : 0;
  r.timings.decode_tokens_per_s =
      out.decode_ms > 0 && out.decode_steps > 0 ? out.decode_steps * 1000.0 / out.decode_ms : 0;
  return r;
}

}  // namespace allm::local
