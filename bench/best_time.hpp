#pragma once
// Seconds one call takes, as the best of `reps` timed batches of `calls`
// calls after one untimed warm-up call: the figure least disturbed by other
// work on the machine. Shared by the kernel benchmarks.
#include <algorithm>
#include <chrono>

namespace allm::bench {

template <class F>
double best_seconds_per_call(F&& call, int reps = 5, int calls = 4) {
  call();  // warm-up
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) call();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / calls);
  }
  return best;
}

}  // namespace allm::bench
