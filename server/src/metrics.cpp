#include "metrics.hpp"

#include <sstream>

#include "scheduler.hpp"

namespace allm::server {

void Metrics::record(const ExchangeRecord& r, double duration_ms) {
  std::lock_guard lock(mutex_);
  requests_[{r.route.empty() ? "other" : r.route, r.status}]++;
  prompt_tokens_ += static_cast<uint64_t>(r.prompt_tokens);
  completion_tokens_ += static_cast<uint64_t>(r.completion_tokens);
  cached_tokens_ += static_cast<uint64_t>(r.cached_tokens);
  if (r.ttft_ms >= 0) {
    ttft_sum_ms_ += r.ttft_ms;
    ttft_count_++;
  }
  duration_sum_ms_ += duration_ms;
  duration_count_++;
}

std::string Metrics::render(const SchedulerStats& s, size_t models_loaded, uint64_t batched_calls,
                            uint64_t batched_sequences, const KvTotals& kv) const {
  std::lock_guard lock(mutex_);
  std::ostringstream o;
  o << "# HELP allm_requests_total HTTP requests answered, by route and status.\n"
    << "# TYPE allm_requests_total counter\n";
  for (auto& [key, n] : requests_)
    o << "allm_requests_total{route=\"" << key.first << "\",status=\"" << key.second << "\"} " << n << "\n";
  o << "# HELP allm_prompt_tokens_total Prompt tokens of finished generations.\n"
    << "# TYPE allm_prompt_tokens_total counter\nallm_prompt_tokens_total " << prompt_tokens_ << "\n"
    << "# HELP allm_prompt_cached_tokens_total Prompt tokens served from the KV cache.\n"
    << "# TYPE allm_prompt_cached_tokens_total counter\nallm_prompt_cached_tokens_total " << cached_tokens_ << "\n"
    << "# HELP allm_completion_tokens_total Generated tokens.\n"
    << "# TYPE allm_completion_tokens_total counter\nallm_completion_tokens_total " << completion_tokens_ << "\n"
    << "# HELP allm_time_to_first_token_seconds Time from request to first generated text.\n"
    << "# TYPE allm_time_to_first_token_seconds summary\n"
    << "allm_time_to_first_token_seconds_sum " << ttft_sum_ms_ / 1000 << "\n"
    << "allm_time_to_first_token_seconds_count " << ttft_count_ << "\n"
    << "# HELP allm_request_duration_seconds Time from request to the end of its answer.\n"
    << "# TYPE allm_request_duration_seconds summary\n"
    << "allm_request_duration_seconds_sum " << duration_sum_ms_ / 1000 << "\n"
    << "allm_request_duration_seconds_count " << duration_count_ << "\n"
    << "# HELP allm_requests_running Generations running now.\n"
    << "# TYPE allm_requests_running gauge\nallm_requests_running " << s.running << "\n"
    << "# HELP allm_queue_depth Generations waiting for a slot.\n"
    << "# TYPE allm_queue_depth gauge\nallm_queue_depth " << s.queued << "\n"
    << "# HELP allm_slots Sequences that can run at once.\n"
    << "# TYPE allm_slots gauge\nallm_slots " << s.slots << "\n"
    << "# HELP allm_models_loaded Models loaded.\n"
    << "# TYPE allm_models_loaded gauge\nallm_models_loaded " << models_loaded << "\n"
    << "# HELP allm_batched_forward_calls_total Forward passes that carried several generations' steps.\n"
    << "# TYPE allm_batched_forward_calls_total counter\nallm_batched_forward_calls_total " << batched_calls << "\n"
    << "# HELP allm_batched_sequences_total Sequence steps in those passes.\n"
    << "# TYPE allm_batched_sequences_total counter\nallm_batched_sequences_total " << batched_sequences << "\n"
    << "# HELP allm_kv_cache_bytes KV cache memory in use (blocks held by sequences and prompt-cache snapshots).\n"
    << "# TYPE allm_kv_cache_bytes gauge\nallm_kv_cache_bytes " << kv.bytes << "\n"
    << "# HELP allm_prompt_cache_sequences Finished sequences kept for prefix reuse.\n"
    << "# TYPE allm_prompt_cache_sequences gauge\nallm_prompt_cache_sequences " << kv.snapshots << "\n"
    << "# HELP allm_prompt_cache_bytes KV bytes those sequences span (blocks shared with others counted in each).\n"
    << "# TYPE allm_prompt_cache_bytes gauge\nallm_prompt_cache_bytes " << kv.snapshot_bytes << "\n";
  return o.str();
}

}  // namespace allm::server
