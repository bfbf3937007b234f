#pragma once
// The key/value cache of one sequence. Keys and values are kept in F32 (exact
// with respect to the model's activations; 4 bytes per value), laid out
// [layer][kv_head][position][head_dim] so attention streams each head's keys
// contiguously. Capacity grows by doubling (never per token in steady state);
// `truncate` drops a suffix so a session can rewind and reuse a prefix.
#include <cstdint>
#include <vector>

#include "allm/compute.hpp"

namespace allm {

class KVCache {
 public:
  KVCache(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t max_positions, int64_t initial_capacity);

  int64_t size() const noexcept { return size_; }          // positions stored
  int64_t capacity() const noexcept { return capacity_; }  // positions allocated
  int64_t max_positions() const noexcept { return max_positions_; }
  int64_t layers() const noexcept { return static_cast<int64_t>(k_.size()); }

  // Makes room for `positions` positions (throws ContextWindowError past max_positions).
  void reserve(int64_t positions);
  // Keeps the first n positions (n <= size()).
  void truncate(int64_t n);
  void clear() { size_ = 0; }
  // Called by the model once a forward call has written positions [size(), size() + n).
  void advance(int64_t n) { size_ += n; }

  KVLayerView layer(int64_t i) noexcept { return {k_[i].data(), v_[i].data(), capacity_}; }
  uint64_t bytes() const noexcept;

 private:
  int64_t kv_heads_, head_dim_, max_positions_, capacity_ = 0, size_ = 0;
  std::vector<std::vector<float>> k_, v_;
};

}  // namespace allm
