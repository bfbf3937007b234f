#include "allm/generate.hpp"

#include <algorithm>
#include <chrono>

#include "allm/error.hpp"

namespace allm {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

GenerationResult generate(Model& model, KVCache& cache, const GenerationRequest& req) {
  if (req.prompt.empty()) throw InvalidArgumentError("generate: the prompt has no tokens");
  if (req.max_tokens < 0) throw InvalidArgumentError("generate: max_tokens must be >= 0");
  if (req.top_logprobs > kMaxTopLogprobs)
    throw InvalidArgumentError("generate: top_logprobs must be at most " + std::to_string(kMaxTopLogprobs));
  const int64_t vocab = model.info().vocab_size;
  Sampler sampler(req.sampling, vocab);
  StopStringMatcher stops(req.stop);
  OutputBuffer logits(model, static_cast<size_t>(vocab));  // page-locked where the model is on a GPU
  GenerationResult out;
  out.prompt_tokens = static_cast<int64_t>(req.prompt.size());
  if (cache.size() + out.prompt_tokens > cache.max_positions())
    throw ContextWindowError("prompt of " + std::to_string(out.prompt_tokens) + " tokens (after " +
                             std::to_string(cache.size()) + " cached) exceeds the context window of " +
                             std::to_string(cache.max_positions()));

  auto t0 = std::chrono::steady_clock::now();
  const int64_t chunk = std::max<int64_t>(1, req.prefill_chunk);
  const auto prompt_len = static_cast<int64_t>(req.prompt.size());
  std::vector<SoftTokens> runs;  // this chunk's, indices relative to it
  size_t next_run = 0;
  for (int64_t at = 0; at < prompt_len;) {
    int64_t end = std::min(prompt_len, at + chunk);
    runs.clear();
    for (; next_run < req.soft_tokens.size() && req.soft_tokens[next_run].index < end; ++next_run) {
      SoftTokens run = req.soft_tokens[next_run];
      end = std::max(end, std::min(prompt_len, run.index + run.count));  // whole runs only
      run.index -= at;
      runs.push_back(run);
    }
    const BatchEntry entry{&cache, std::span<const int32_t>(req.prompt.data() + at, static_cast<size_t>(end - at)),
                           LogitsMode::last, -1, runs};
    model.forward(std::span<const BatchEntry>(&entry, 1), logits.data());
    at = end;
  }
  out.prefill_ms = ms_since(t0);
  out.tokens.reserve(static_cast<size_t>(req.max_tokens));

  // What the repetition penalty counts as the prompt: the whole context.
  std::vector<int32_t> context;
  if (!req.cached_prefix.empty()) {
    context.reserve(req.cached_prefix.size() + req.prompt.size());
    context.assign(req.cached_prefix.begin(), req.cached_prefix.end());
    context.insert(context.end(), req.prompt.begin(), req.prompt.end());
  }
  const std::span<const int32_t> seen = context.empty() ? std::span<const int32_t>(req.prompt) : context;

  t0 = std::chrono::steady_clock::now();
  out.finish_reason = "length";
  std::vector<float> raw;  // the model's logits, kept for log-probabilities
  while (static_cast<int64_t>(out.tokens.size()) < req.max_tokens) {
    if (req.top_logprobs >= 0) raw.assign(logits.data(), logits.data() + vocab);
    if (req.constrain_logits) req.constrain_logits(logits.data(), vocab);
    const int32_t token = sampler.sample(logits.data(), seen, out.tokens);
    out.tokens.push_back(token);
    if (req.top_logprobs >= 0) {
      out.logprobs.push_back(token_logprob(raw.data(), vocab, token, req.top_logprobs));
      if (req.on_logprob) req.on_logprob(out.logprobs.back());
    }
    const bool eos = !req.ignore_eos && std::find(req.eos_ids.begin(), req.eos_ids.end(), token) != req.eos_ids.end();
    std::string piece;
    if (req.token_text && !eos) piece = stops.push(req.token_text(token));
    out.text += piece;
    if (req.on_token && !req.on_token(token, piece)) {
      out.finish_reason = "cancelled";
      break;
    }
    if (eos || stops.stopped()) {
      out.finish_reason = "stop";
      break;
    }
    if (static_cast<int64_t>(out.tokens.size()) >= req.max_tokens || cache.size() >= cache.max_positions()) break;
    model.forward(std::span<const int32_t>(&token, 1), cache, LogitsMode::last, logits.data());
    ++out.decode_steps;
  }
  if (!stops.stopped()) out.text += stops.flush();
  out.decode_ms = ms_since(t0);
  return out;
}

}  // namespace allm
