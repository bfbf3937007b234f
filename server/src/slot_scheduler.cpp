// SlotScheduler: per model, one worker thread per slot (--parallel) taking
// jobs from one bounded FIFO. Each slot generates through its own providers;
// the local provider batches the forward steps of the slots running at the
// same moment into one forward pass (continuous batching).
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "allm/log.hpp"
#include "scheduler.hpp"

namespace allm::server {

namespace {

// After a generation, on the slot's thread: the prompt tokens it reused, and
// the model's batching counters for /metrics.
int64_t cached_tokens_of(Provider& p, ServedModel& m, size_t slot) {
  const nlohmann::json info = p.capabilities().model_info;
  if (auto kv = info.find("kv"); kv != info.end() && kv->is_object()) {
    const uint64_t bytes = kv->value("pool_bytes_in_use", uint64_t{0});
    std::lock_guard lock(m.kv_mutex);
    if (m.kv.slot_pools.size() < m.slots.size()) m.kv.slot_pools.resize(m.slots.size());
    if (kv->value("shared_pool", false)) {
      m.kv.shared_pool = bytes;
      m.kv.slot_pools[slot] = 0;
    } else {
      m.kv.slot_pools[slot] = bytes;
    }
    if (auto pc = info.find("prompt_cache"); pc != info.end() && pc->is_object()) {
      m.kv.snapshot_bytes = pc->value("bytes", uint64_t{0});
      m.kv.snapshots = pc->value("entries", uint64_t{0});
    }
  }
  if (auto b = info.find("batching"); b != info.end() && b->is_object()) {
    // Counters only grow: keep the largest reading of all slots.
    auto raise = [](std::atomic<uint64_t>& a, uint64_t v) {
      uint64_t cur = a.load();
      while (cur < v && !a.compare_exchange_weak(cur, v)) {
      }
    };
    raise(m.batched_calls, b->value("merged_forward_calls", uint64_t{0}));
    raise(m.batched_sequences, b->value("merged_sequences", uint64_t{0}));
  }
  auto it = info.find("last_prompt");
  if (it == info.end() || !it->is_object()) return 0;
  return it->value("reused_tokens", int64_t{0});
}

// Which stop string ended the reply: the generated ids still hold it, the
// released text does not.
std::string stop_sequence_of(Provider& p, const GenerateRequest& req, const GenerateResponse& r) {
  if (r.finish_reason != finish_reason::stop || !req.params.stop || req.params.stop->empty()) return {};
  if (!p.capabilities().model_info.value("prompt_inspection", false)) return {};
  const std::string all = p.detokenize(r.token_ids, true);
  if (all.size() <= r.text.size() || all.compare(0, r.text.size(), r.text) != 0) return {};
  const std::string rest = all.substr(r.text.size());
  for (auto& s : *req.params.stop)
    if (rest.rfind(s, 0) == 0) return s;
  return {};
}

class SlotScheduler final : public Scheduler {
 public:
  explicit SlotScheduler(size_t queue_size) : queue_size_(queue_size) {}

  ~SlotScheduler() override { shutdown(); }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cancel_all();
    cv_.notify_all();
    for (auto& [id, lane] : lanes_)
      for (auto& w : lane->workers)
        if (w.joinable()) w.join();
  }

  bool submit(std::shared_ptr<InferenceJob> job) override {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    Lane& lane = lane_for(job->request.model.get());
    if (lane.queue.size() >= queue_size_ + (lane.workers.size() - lane.running)) return false;
    job->request.model->in_use++;
    lane.queue.push_back(std::move(job));
    cv_.notify_all();
    return true;
  }

  SchedulerStats stats() const override {
    std::lock_guard lock(mutex_);
    SchedulerStats s;
    for (auto& [id, lane] : lanes_) {
      s.queued += lane->queue.size();
      s.running += lane->running;
      s.slots += lane->workers.size();
    }
    return s;
  }

  void cancel_all() override {
    std::lock_guard lock(mutex_);
    for (auto& [id, lane] : lanes_) {
      for (auto& j : lane->queue) j->cancel.cancel();
      for (auto& j : lane->current)
        if (j) j->cancel.cancel();
    }
  }

 private:
  struct Lane {
    std::deque<std::shared_ptr<InferenceJob>> queue;
    std::vector<std::shared_ptr<InferenceJob>> current;  // per slot
    size_t running = 0;
    std::vector<std::thread> workers;
  };

  Lane& lane_for(const ServedModel* model) {
    auto& lane = lanes_[model];
    if (!lane) {
      lane = std::make_unique<Lane>();
      const size_t slots = model->slots.size();
      lane->current.resize(slots);
      for (size_t i = 0; i < slots; ++i) lane->workers.emplace_back([this, l = lane.get(), i] { work(*l, i); });
    }
    return *lane;
  }

  void work(Lane& lane, size_t slot) {
    for (;;) {
      std::shared_ptr<InferenceJob> job;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
        if (lane.queue.empty()) return;  // stopping (queued jobs still end, cancelled)
        job = std::move(lane.queue.front());
        lane.queue.pop_front();
        lane.current[slot] = job;
        lane.running++;
      }
      run(*job, slot);
      job->request.model->in_use--;
      std::lock_guard lock(mutex_);
      lane.current[slot].reset();
      lane.running--;
    }
  }

  static void run(InferenceJob& job, size_t slot) {
    const InferenceRequest& req = job.request;
    const ModelSlot& s = req.model->slots.at(slot);
    Provider& provider = req.raw ? *s.raw : *s.chat;
    try {
      if (job.on_start) job.on_start();
      InferenceResult result;
      if (job.cancel.cancelled()) {
        result.response.model = req.model->id;
        result.response.finish_reason = finish_reason::cancelled;
      } else {
        result.response = job.on_delta ? provider.generate(req.generate, job.on_delta, job.cancel)
                                       : provider.generate(req.generate, job.cancel);
        result.cached_tokens = cached_tokens_of(provider, *req.model, slot);
        result.stop_sequence = stop_sequence_of(provider, req.generate, result.response);
      }
      job.on_done(result);
    } catch (...) {
      job.on_error(std::current_exception());
    }
  }

  const size_t queue_size_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<const ServedModel*, std::unique_ptr<Lane>> lanes_;
};

}  // namespace

std::unique_ptr<Scheduler> make_slot_scheduler(size_t queue_size) {
  return std::make_unique<SlotScheduler>(queue_size);
}

}  // namespace allm::server
