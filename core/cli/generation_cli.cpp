#include <csignal>
#include <cstdio>

#include "generation_cli.hpp"

namespace allm::cli {

namespace {
const CancellationToken* g_sigint_token = nullptr;
struct sigaction g_previous;

extern "C" void on_sigint(int) {
  // CancellationToken::cancel is a relaxed atomic store: safe in a handler.
  if (g_sigint_token) g_sigint_token->cancel();
}
}  // namespace

SigintCancels::SigintCancels(const CancellationToken& token) {
  g_sigint_token = &token;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &g_previous);
}

SigintCancels::~SigintCancels() {
  sigaction(SIGINT, &g_previous, nullptr);
  g_sigint_token = nullptr;
}

std::string stats_line(const GenerateResponse& r, const Capabilities& caps) {
  const auto& last = caps.model_info.value("last_prompt", nlohmann::json::object());
  const int64_t processed = last.value("processed_tokens", r.usage.prompt_tokens);
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "load %.0f ms | prompt %lld tokens (%lld processed) %.1f tok/s | reply %lld tokens %.1f tok/s",
                r.timings.load_ms, static_cast<long long>(r.usage.prompt_tokens), static_cast<long long>(processed),
                r.timings.prefill_tokens_per_s, static_cast<long long>(r.usage.completion_tokens),
                r.timings.decode_tokens_per_s);
  std::string line = buf;
  if (r.seed) line += " | seed " + std::to_string(*r.seed);
  return line;
}

}  // namespace allm::cli
