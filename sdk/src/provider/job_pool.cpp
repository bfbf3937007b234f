// Fixed worker pool for async jobs.
#include "allm/provider/job_pool.hpp"

namespace allm {

JobPool::JobPool(unsigned threads) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

JobPool::~JobPool() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  // `dropped` dies here, outside the lock: each packaged_task breaks its promise.
}

void JobPool::enqueue(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;  // dropping it breaks its promise
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

size_t JobPool::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void JobPool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();  // packaged_task stores any exception in its future
  }
}

JobPool& async_job_pool() {
  static JobPool pool(4);
  return pool;
}

}  // namespace allm
