#pragma once
// Where generations run. Every API adapter submits InferenceJobs here; the
// implementation decides what runs when. Today: SerialScheduler, one
// generation at a time per model over the Provider API, a bounded queue
// beyond that. The batched engine (continuous batching over a paged KV cache)
// will be another implementation of this interface.
#include <cstddef>
#include <memory>
#include <string>

#include "inference.hpp"

namespace allm::server {

struct SchedulerStats {
  size_t running = 0;
  size_t queued = 0;
  size_t slots = 0;  // sequences that can run at once, all models together
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Queues `job` (its model is in job->request.model). False when that model's
  // queue is full: the caller answers 429/503 with Retry-After.
  virtual bool submit(std::shared_ptr<InferenceJob> job) = 0;
  virtual SchedulerStats stats() const = 0;
  // Cancels every queued and running job (shutdown after the drain timeout).
  virtual void cancel_all() = 0;
  // Cancels everything, waits for the workers; later submits return false.
  virtual void shutdown() = 0;
};

// One worker per model, `queue_size` jobs waiting beyond the running one. A
// job cancelled while queued ends without running.
std::unique_ptr<Scheduler> make_serial_scheduler(size_t queue_size);

}  // namespace allm::server
