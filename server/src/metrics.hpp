#pragma once
// Counters behind GET /metrics (Prometheus text format).
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "http_exchange.hpp"

namespace allm::server {

struct SchedulerStats;

class Metrics {
 public:
  void record(const ExchangeRecord& r, double duration_ms);
  // `batched_calls`/`batched_sequences`: forward passes that carried several
  // generations' steps, and how many (from the providers, all models).
  // `kv`: KV cache memory and the prompt cache's snapshots, all models.
  struct KvTotals {
    uint64_t bytes = 0, snapshot_bytes = 0, snapshots = 0;
  };
  std::string render(const SchedulerStats& s, size_t models_loaded, uint64_t batched_calls,
                     uint64_t batched_sequences, const KvTotals& kv) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (route, status) -> count
  uint64_t prompt_tokens_ = 0, completion_tokens_ = 0, cached_tokens_ = 0;
  double ttft_sum_ms_ = 0, duration_sum_ms_ = 0;
  uint64_t ttft_count_ = 0, duration_count_ = 0;
};

}  // namespace allm::server
