// The thread pool runs every index of every job exactly once and returns only
// when all of them are done, also when workers outnumber the cores and wake
// late for a job that has already finished (run under ThreadSanitizer too).
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "allm/threadpool.hpp"

namespace allm {
namespace {

TEST(ThreadPool, EveryIndexOnceAndFinishedOnReturn) {
  ThreadPool pool(4);  // oversubscribed on small CI machines: late wake-ups happen
  std::vector<std::atomic<int>> hits(97);
  for (int job = 0; job < 20000; ++job) {
    const int64_t n = 1 + job % 97, grain = 1 + job % 3;
    pool.parallel_for(n, grain, [&](int, int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
    });
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(hits[i].load(std::memory_order_relaxed), 1) << "job " << job << " index " << i;
      hits[i].store(0, std::memory_order_relaxed);
    }
  }
}

TEST(ThreadPool, ThreadIndicesAreDistinctWithinAJob) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> busy(3);
  std::atomic<bool> clash{false};
  for (int job = 0; job < 2000; ++job)
    pool.parallel_for(64, 1, [&](int t, int64_t, int64_t) {
      if (busy[t].fetch_add(1) != 0) clash = true;  // per-thread scratch would be shared
      busy[t].fetch_sub(1);
    });
  EXPECT_FALSE(clash.load());
}

}  // namespace
}  // namespace allm
