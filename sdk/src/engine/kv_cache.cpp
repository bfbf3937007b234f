#include "allm/kv_cache.hpp"

#include <algorithm>
#include <string>

#include "allm/error.hpp"

namespace allm {

KVCache::KVCache(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t max_positions, int64_t initial_capacity)
    : kv_heads_(kv_heads), head_dim_(head_dim), max_positions_(max_positions), k_(layers), v_(layers) {
  reserve(std::min(max_positions, std::max<int64_t>(1, initial_capacity)));
}

void KVCache::reserve(int64_t positions) {
  if (positions <= capacity_) return;
  if (positions > max_positions_)
    throw ContextWindowError("KV cache: " + std::to_string(positions) + " positions exceed the context window of " +
                             std::to_string(max_positions_));
  const int64_t cap = std::min(max_positions_, std::max(positions, capacity_ * 2));
  for (auto* side : {&k_, &v_}) {
    for (auto& buf : *side) {
      std::vector<float> grown(static_cast<size_t>(kv_heads_ * cap * head_dim_));
      for (int64_t h = 0; h < kv_heads_ && size_ > 0; ++h)
        std::copy_n(buf.begin() + h * capacity_ * head_dim_, size_ * head_dim_, grown.begin() + h * cap * head_dim_);
      buf = std::move(grown);
    }
  }
  capacity_ = cap;
}

void KVCache::truncate(int64_t n) {
  if (n < 0 || n > size_)
    throw InvalidArgumentError("KV cache: cannot truncate " + std::to_string(size_) + " positions to " +
                               std::to_string(n));
  size_ = n;
}

uint64_t KVCache::bytes() const noexcept {
  return static_cast<uint64_t>(k_.size()) * 2 * static_cast<uint64_t>(kv_heads_ * capacity_ * head_dim_) * 4;
}

}  // namespace allm
