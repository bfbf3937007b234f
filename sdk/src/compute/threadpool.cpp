#include "allm/threadpool.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ALLM_CPU_RELAX() _mm_pause()
#else
#define ALLM_CPU_RELAX() std::this_thread::yield()
#endif

namespace allm {

int ThreadPool::physical_cores() {
  // Count distinct (package, core) pairs from sysfs; fall back to logical CPUs.
  std::set<std::pair<std::string, std::string>> cores;
  int logical = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int cpu = 0; cpu < logical; ++cpu) {
    std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream pkg(base + "physical_package_id"), core(base + "core_id");
    std::string p, c;
    if (!(pkg >> p) || !(core >> c)) return logical;
    cores.emplace(p, c);
  }
  return cores.empty() ? logical : static_cast<int>(cores.size());
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = physical_cores();
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true);
    job_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(uint32_t job, int index) {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    const int64_t next = static_cast<int64_t>(s & 0xffffu), blocks = static_cast<int64_t>((s >> 16) & 0xffffu);
    if ((s >> 32) != job || next >= blocks) return;
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) continue;
    // Claimed block `next` of `job`: its fields stay put until it is done.
    const RangeFn fn = fn_.load(std::memory_order_relaxed);
    void* ctx = ctx_.load(std::memory_order_relaxed);
    const int64_t n = n_.load(std::memory_order_relaxed), grain = grain_.load(std::memory_order_relaxed);
    fn(ctx, index, next * grain, std::min(n, (next + 1) * grain));
    done_.fetch_add(1, std::memory_order_acq_rel);
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker_loop(int index) {
  uint32_t seen = 0;
  for (;;) {
    // Spin briefly: decode dispatches jobs microseconds apart.
    uint32_t job = job_.load(std::memory_order_acquire);
    for (int spin = 0; job == seen && spin < 20000; ++spin) {
      ALLM_CPU_RELAX();
      job = job_.load(std::memory_order_acquire);
    }
    if (job == seen) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return job_.load(std::memory_order_acquire) != seen; });
      job = job_.load(std::memory_order_acquire);
    }
    seen = job;
    if (stop_.load()) return;
    work(job, index);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, RangeFn fn, void* ctx) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (workers_.empty() || n <= grain) {
    fn(ctx, 0, 0, n);
    return;
  }
  // At most 16 blocks per thread: enough to balance, few enough to be cheap
  // (and within the 16-bit block count of `state_`).
  const int64_t max_blocks = std::min<int64_t>(16 * static_cast<int64_t>(size()), 0xffff);
  if ((n + grain - 1) / grain > max_blocks) grain = ((n + max_blocks - 1) / max_blocks + grain - 1) / grain * grain;
  const int64_t blocks = (n + grain - 1) / grain;
  const uint32_t job = job_.load(std::memory_order_relaxed) + 1;
  fn_.store(fn, std::memory_order_relaxed);
  ctx_.store(ctx, std::memory_order_relaxed);
  n_.store(n, std::memory_order_relaxed);
  grain_.store(grain, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  state_.store(static_cast<uint64_t>(job) << 32 | static_cast<uint64_t>(blocks) << 16, std::memory_order_release);
  {
    std::lock_guard lock(mutex_);
    job_.store(job, std::memory_order_release);
  }
  wake_.notify_all();
  work(job, 0);
  // Only blocks other threads already started remain: spin, then yield so a
  // descheduled worker can finish its block on an oversubscribed machine.
  for (int spin = 0; done_.load(std::memory_order_acquire) != blocks; ++spin) {
    if (spin < 4000)
      ALLM_CPU_RELAX();
    else
      std::this_thread::yield();
  }
}

}  // namespace allm
