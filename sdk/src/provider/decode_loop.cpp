// The per-token loop shared by engines: EOS, stop strings, max_tokens and
// cancellation, with deltas emitted as soon as text is safe to show.
#include <algorithm>
#include <chrono>

#include "allm/provider/generation.hpp"

namespace allm {

DecodeResult run_decode_loop(const DecodeSettings& settings, const DecodeHooks& hooks,
                             const StreamCallback& on_delta, const CancellationToken& cancel) {
  const auto start = std::chrono::steady_clock::now();
  DecodeResult result;
  StopMatcher stops(settings.stop);
  StreamDelta pending;  // ids whose text has not been emitted yet
  auto emit = [&](std::string text) {
    if (text.empty()) return;
    result.text += text;
    pending.text = std::move(text);
    if (on_delta) on_delta(pending);
    pending = {};
  };

  for (;;) {
    if (cancel.cancelled()) {
      result.finish_reason = finish_reason::cancelled;
      break;
    }
    if (static_cast<int>(result.token_ids.size()) >= settings.max_tokens) {
      result.finish_reason = finish_reason::length;
      break;
    }
    TokenId id = hooks.next_token();
    bool is_eos = std::find(settings.eos_ids.begin(), settings.eos_ids.end(), id) != settings.eos_ids.end();
    if (is_eos && !settings.ignore_eos) {
      result.finish_reason = finish_reason::stop;
      break;
    }
    result.token_ids.push_back(id);
    pending.token_ids.push_back(id);
    emit(stops.push(hooks.piece(id)));
    if (stops.matched()) {
      result.finish_reason = finish_reason::stop;
      break;
    }
  }
  if (!stops.matched()) {
    if (hooks.finish) emit(stops.push(hooks.finish()));
    emit(stops.flush());
  }
  result.decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace allm
