#pragma once
// Measuring this machine's memory bandwidth, the yardstick of decode speed
// (decoding reads every weight once per token).
#include <cstdint>

namespace allm {

class ThreadPool;

struct BandwidthResult {
  double read_gb_s = 0;  // summing a buffer far larger than the caches
  double copy_gb_s = 0;  // memcpy of one such buffer into another (bytes read + written)
  uint64_t buffer_bytes = 0;
};

// Best of `repeats` passes over `bytes`-sized buffers on `pool`'s threads.
BandwidthResult measure_memory_bandwidth(ThreadPool& pool, uint64_t bytes = 512ull << 20, int repeats = 5);

}  // namespace allm
