#pragma once
// Where generations run. Every API adapter submits InferenceJobs here; the
// implementation decides what runs when. SlotScheduler: per model, --parallel
// slots generate at once (the local provider batches their forward steps into
// one pass: continuous batching), a bounded FIFO queue behind them.
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

// One worker per slot of each model, `queue_size` jobs waiting beyond the
// running ones. A job cancelled while queued ends without running.
std::unique_ptr<Scheduler> make_slot_scheduler(size_t queue_size);

}  // namespace allm::server
