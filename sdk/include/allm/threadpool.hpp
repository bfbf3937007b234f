#pragma once
// A persistent pool of worker threads for data-parallel kernels. Workers are
// created once and park between jobs (brief spin, then a condition variable),
// so a decode step can dispatch hundreds of small jobs without creating
// threads or allocating. The calling thread takes part in every job.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace allm {

class ThreadPool {
 public:
  // `threads` counts the caller too; 0 means physical_cores().
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(ctx, thread_index, begin, end) over [0, n) in blocks of about
  // `grain` items whose boundaries are multiples of `grain`. Blocks are claimed
  // dynamically, so a worker the OS has descheduled delays nothing it has not
  // started: the caller simply takes its share. Blocks until all are done.
  // Not reentrant: call it from one thread at a time.
  using RangeFn = void (*)(void* ctx, int thread, int64_t begin, int64_t end);
  void parallel_for(int64_t n, int64_t grain, RangeFn fn, void* ctx);

  template <class F>
  void parallel_for(int64_t n, int64_t grain, F&& f) {
    auto thunk = [](void* c, int t, int64_t b, int64_t e) { (*static_cast<std::remove_reference_t<F>*>(c))(t, b, e); };
    parallel_for(n, grain, +thunk, static_cast<void*>(&f));
  }

  // Physical cores of this machine (logical CPUs when unknown).
  static int physical_cores();

 private:
  void worker_loop(int index);
  // Claims and runs blocks of job `job` until none is left.
  void work(uint32_t job, int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
  // The current job. `state_` packs the job number (bits 32-63), its block
  // count (bits 16-31) and the next unclaimed block (bits 0-15) in one word, so
  // a claim is valid only for the job it names. The other fields are written
  // between jobs and read only after a successful claim: while a block of job
  // J is claimed and unfinished, the caller is still waiting inside job J and
  // cannot have rewritten them (a worker waking late for an older job fails
  // its claim instead of running a block with a newer job's fields).
  std::atomic<uint32_t> job_{0};
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<RangeFn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int64_t> n_{0}, grain_{1};
};

}  // namespace allm
