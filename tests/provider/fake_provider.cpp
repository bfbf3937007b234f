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
                                         fake::tokenize);
  last_request.messages = messages;

  // The token loop, as the engine's allm::generate runs it: cancellation is
  // checked before every token; EOS (id 0) ends the reply and is not part of it.
  std::vector<allm::TokenId> ids;
  std::string text;
  std::string reason = allm::finish_reason::length;
  const auto start = std::chrono::steady_clock::now();
  for (size_t step = 0; static_cast<int>(step) < last_params.max_tokens; ++step) {
    if (cancel.cancelled()) {
      reason = allm::finish_reason::cancelled;
      break;
    }
    if (on_step) on_step(step);
    gate.at(step);
    if (options_.throw_at_step == static_cast<int>(step))
      throw allm::ModelLoadError("fake engine failed at step " + std::to_string(step));
    allm::TokenId id = step < options_.script.size() ? options_.script[step] : 0;
    if (id == 0 && !last_params.ignore_eos) {
      reason = allm::finish_reason::stop;
      break;
    }
    ids.push_back(id);
    text += vocab().at(id);
    on_delta({vocab().at(id), {id}, {}});
  }
  cache_tokens_ = last_prompt_ids;
  cache_tokens_.insert(cache_tokens_.end(), ids.begin(), ids.end());

  allm::GenerateResponse r;
  r.text = text;
  r.model = options_.model;
  r.finish_reason = reason;
  r.token_ids = ids;
  r.usage.prompt_tokens = static_cast<int64_t>(last_prompt_ids.size());
  r.usage.completion_tokens = static_cast<int64_t>(ids.size());
  r.usage.total_tokens = r.usage.prompt_tokens + r.usage.completion_tokens;
  r.timings.decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace fake
