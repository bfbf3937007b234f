// SerialScheduler: one generation at a time per model, through the Provider
// API (the engine's single-sequence path). Each model has a lane: a worker
// thread and a bounded FIFO.
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "allm/log.hpp"
#include "scheduler.hpp"

namespace allm::server {

namespace {

int64_t cached_tokens_of(Provider& p) {
  const nlohmann::json info = p.capabilities().model_info;
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

class SerialScheduler final : public Scheduler {
 public:
  explicit SerialScheduler(size_t queue_size) : queue_size_(queue_size) {}

  ~SerialScheduler() override { shutdown(); }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cancel_all();
    cv_.notify_all();
    for (auto& [id, lane] : lanes_)
      if (lane->worker.joinable()) lane->worker.join();
  }

  bool submit(std::shared_ptr<InferenceJob> job) override {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    Lane& lane = lane_for(job->request.model.get());
    if (lane.queue.size() >= queue_size_ + (lane.running ? 0 : 1)) return false;
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
      s.running += lane->running ? 1 : 0;
      s.slots += 1;
    }
    return s;
  }

  void cancel_all() override {
    std::lock_guard lock(mutex_);
    for (auto& [id, lane] : lanes_) {
      for (auto& j : lane->queue) j->cancel.cancel();
      if (lane->current) lane->current->cancel.cancel();
    }
  }

 private:
  struct Lane {
    std::deque<std::shared_ptr<InferenceJob>> queue;
    std::shared_ptr<InferenceJob> current;
    bool running = false;
    std::thread worker;
  };

  Lane& lane_for(const ServedModel* model) {
    auto& lane = lanes_[model];
    if (!lane) {
      lane = std::make_unique<Lane>();
      lane->worker = std::thread([this, l = lane.get()] { work(*l); });
    }
    return *lane;
  }

  void work(Lane& lane) {
    for (;;) {
      std::shared_ptr<InferenceJob> job;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
        if (lane.queue.empty()) return;  // stopping (queued jobs still end, cancelled)
        job = std::move(lane.queue.front());
        lane.queue.pop_front();
        lane.current = job;
        lane.running = true;
      }
      run(*job);
      job->request.model->in_use--;
      std::lock_guard lock(mutex_);
      lane.current.reset();
      lane.running = false;
    }
  }

  static void run(InferenceJob& job) {
    const InferenceRequest& req = job.request;
    Provider& provider = req.raw ? *req.model->raw : *req.model->chat;
    try {
      if (job.on_start) job.on_start();
      InferenceResult result;
      if (job.cancel.cancelled()) {
        result.response.model = req.model->id;
        result.response.finish_reason = finish_reason::cancelled;
      } else {
        result.response = job.on_delta ? provider.generate(req.generate, job.on_delta, job.cancel)
                                       : provider.generate(req.generate, job.cancel);
        result.cached_tokens = cached_tokens_of(provider);
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

std::unique_ptr<Scheduler> make_serial_scheduler(size_t queue_size) {
  return std::make_unique<SerialScheduler>(queue_size);
}

}  // namespace allm::server
