#pragma once
// A small fixed pool of worker threads for asynchronous jobs (generate_async).
// Compute parallelism lives in the engine; these threads mostly wait on it.
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace allm {

class JobPool {
 public:
  explicit JobPool(unsigned threads);
  // Stops accepting work, drops jobs that have not started (their futures
  // report std::future_errc::broken_promise) and joins the workers.
  ~JobPool();
  JobPool(const JobPool&) = delete;
  JobPool& operator=(const JobPool&) = delete;

  template <class F>
  auto submit(F&& fn) -> std::future<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
    auto future = task->get_future();
    enqueue([task] { (*task)(); });
    return future;
  }

  unsigned size() const { return static_cast<unsigned>(workers_.size()); }
  size_t pending() const;

 private:
  void enqueue(std::function<void()> job);
  void work();

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

// The process-wide pool used by Provider::generate_async (4 workers).
JobPool& async_job_pool();

}  // namespace allm
