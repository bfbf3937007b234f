#include "fake_provider.hpp"

#include <chrono>
#include <cstring>
#include <sstream>

#include "allm/error.hpp"

namespace fake {

void Gate::at(size_t step) {
  std::unique_lock lock(m_);
  if (step != step_) return;
  reached_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return opened_; });
}

void Gate::wait_reached() {
  std::unique_lock lock(m_);
  cv_.wait(lock, [&] { return reached_; });
}

void Gate::open() {
  std::lock_guard lock(m_);
  opened_ = true;
  cv_.notify_all();
}

std::vector<allm::TokenId> tokenize(const std::vector<allm::Message>& messages) {
  std::vector<allm::TokenId> ids;
  for (auto& m : messages) {
    std::istringstream words(m.role + ": " + m.content);
    std::string w;
    while (words >> w) ids.push_back(100);
  }
  return ids;
}

allm::Capabilities FakeProvider::capabilities() const {
  allm::Capabilities c;
  c.vision = options_.vision;
  c.cache_state = true;
  c.max_context = static_cast<int64_t>(options_.context_length);
  c.model = options_.model;
  return c;
}

std::optional<allm::CacheState> FakeProvider::save_cache_state() const {
  if (cache_tokens_.empty()) return std::nullopt;
  allm::CacheState s{model_fingerprint(), std::vector<uint8_t>(cache_tokens_.size() * sizeof(allm::TokenId))};
  std::memcpy(s.data.data(), cache_tokens_.data(), s.data.size());
  return s;
}

bool FakeProvider::restore_cache_state(const allm::CacheState& state) {
  if (state.model_fingerprint != model_fingerprint() || state.data.size() % sizeof(allm::TokenId)) return false;
  restored_tokens.resize(state.data.size() / sizeof(allm::TokenId));
  std::memcpy(restored_tokens.data(), state.data.data(), state.data.size());
  cache_tokens_ = restored_tokens;
  return true;
}

allm::GenerateResponse FakeProvider::do_generate(const allm::PreparedRequest& request,
                                                 const allm::StreamCallback& on_delta,
                                                 const allm::CancellationToken& cancel) {
  ++calls;
  last_request = request;
  last_params = allm::resolve_generation_params(request.params, options_.model_defaults, options_.config_defaults);
  std::vector<allm::Message> messages = request.messages;
  last_prompt_ids = allm::fit_to_context(messages, request.truncation, options_.context_length, options_.reserve,
                                         tokenize);
  last_request.messages = messages;

  size_t step = 0;
  allm::DecodeSettings settings{last_params.max_tokens, last_params.stop, last_params.ignore_eos, {0}};
  allm::DecodeHooks hooks;
  hooks.next_token = [&]() -> allm::TokenId {
    if (on_step) on_step(step);
    gate.at(step);
    if (options_.throw_at_step == static_cast<int>(step)) throw allm::ModelLoadError("fake engine failed at step " + std::to_string(step));
    allm::TokenId id = step < options_.script.size() ? options_.script[step] : 0;
    ++step;
    return id;
  };
  hooks.piece = [](allm::TokenId id) { return vocab().at(id); };
  auto result = allm::run_decode_loop(settings, hooks, on_delta, cancel);

  cache_tokens_ = last_prompt_ids;
  cache_tokens_.insert(cache_tokens_.end(), result.token_ids.begin(), result.token_ids.end());

  allm::GenerateResponse r;
  r.text = result.text;
  r.model = options_.model;
  r.finish_reason = result.finish_reason;
  r.token_ids = result.token_ids;
  r.usage.prompt_tokens = static_cast<int64_t>(last_prompt_ids.size());
  r.usage.completion_tokens = static_cast<int64_t>(result.token_ids.size());
  r.usage.total_tokens = r.usage.prompt_tokens + r.usage.completion_tokens;
  r.timings.decode_ms = result.decode_ms;
  return r;
}

}  // namespace fake
