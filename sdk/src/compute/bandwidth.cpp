#include "allm/bandwidth.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "allm/threadpool.hpp"
#include "kernels/kernel_table.hpp"

namespace allm {

BandwidthResult measure_memory_bandwidth(ThreadPool& pool, uint64_t bytes, int repeats) {
  const int64_t n = static_cast<int64_t>(bytes / sizeof(float));
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  // First touch from the pool, so pages land where the threads run.
  pool.parallel_for(n, 4096, [&](int, int64_t s, int64_t e) {
    std::fill(a.begin() + s, a.begin() + e, 1.0f);
    std::fill(b.begin() + s, b.begin() + e, 0.0f);
  });
  const auto& k = kernels::active();
  std::vector<float> sink(static_cast<size_t>(pool.size()));
  double best_read = 1e30, best_copy = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(n, 1 << 16, [&](int t, int64_t s, int64_t e) { sink[t] += k.read_sum(a.data() + s, e - s); });
    auto t1 = std::chrono::steady_clock::now();
    pool.parallel_for(n, 4096, [&](int, int64_t s, int64_t e) {
      std::memcpy(b.data() + s, a.data() + s, static_cast<size_t>(e - s) * sizeof(float));
    });
    auto t2 = std::chrono::steady_clock::now();
    best_read = std::min(best_read, std::chrono::duration<double>(t1 - t0).count());
    best_copy = std::min(best_copy, std::chrono::duration<double>(t2 - t1).count());
  }
  BandwidthResult out;
  out.buffer_bytes = static_cast<uint64_t>(n) * sizeof(float);
  out.read_gb_s = static_cast<double>(out.buffer_bytes) / best_read / 1e9;
  out.copy_gb_s = 2.0 * static_cast<double>(out.buffer_bytes) / best_copy / 1e9;
  if (sink[0] < 0) out.read_gb_s = 0;  // keeps the reads observable
  return out;
}

}  // namespace allm
