#pragma once
// The key/value cache of one sequence: a table of blocks in a KVPool (see
// kv_pool.hpp). A cache made by Model::make_cache has a private pool without
// a budget; caches made from a shared pool (KVCache(pool)) draw on its budget,
// and `fork` starts a sequence that shares a prefix's blocks copy-on-write (a
// prompt cache). `truncate` drops a suffix so a session can rewind and reuse
// a prefix; destroying the cache frees its blocks. The blocks live in the
// pool's backend memory: copies and session save/load go through the backend.
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "allm/kv_pool.hpp"

namespace allm {

class KVCache {
 public:
  // A sequence in its own pool (no budget, F32, blocks in `backend`'s memory;
  // null: host memory), `initial_capacity` positions preallocated.
  KVCache(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t max_positions, int64_t initial_capacity,
          std::shared_ptr<Backend> backend = nullptr);
  // An empty sequence drawing blocks from `pool`.
  explicit KVCache(std::shared_ptr<KVPool> pool);
  ~KVCache();
  KVCache(const KVCache&) = delete;
  KVCache& operator=(const KVCache&) = delete;

  int64_t size() const noexcept { return size_; }  // positions stored
  // Positions the blocks held now can store.
  int64_t capacity() const noexcept { return static_cast<int64_t>(table_.size()) * pool_->block_positions(); }
  int64_t max_positions() const noexcept { return pool_->shape().max_positions; }
  int64_t layers() const noexcept { return pool_->shape().layers; }
  const std::shared_ptr<KVPool>& pool() const noexcept { return pool_; }
  const std::vector<int32_t>& blocks() const noexcept { return table_; }

  // Makes room for `positions` positions: ContextWindowError past
  // max_positions, OutOfMemoryError when the pool's budget cannot supply the
  // blocks (the cache is left as it was).
  void reserve(int64_t positions);
  // Keeps the first n positions (n <= size()); whole blocks past them go back to the pool.
  void truncate(int64_t n);
  void clear() { truncate(0); }
  // A new sequence in the same pool holding this one's first n positions; full
  // blocks are shared until either side writes into them.
  std::unique_ptr<KVCache> fork(int64_t n) const;
  // Called by the model before writing positions [from, to): gives this
  // sequence private copies of shared blocks in that range and reserves `to`.
  void prepare_write(int64_t from, int64_t to);
  // Called by the model once a forward call has written positions [size(), size() + n).
  void advance(int64_t n) { size_ += n; }

  // Copies positions [p0, p0 + n) of one layer's keys (values: `values`) of
  // kv head `head` to/from `n * head_dim` floats, converting from/to the
  // pool's type (session save/load).
  void read(int64_t layer, bool values, int64_t head, int64_t p0, int64_t n, float* out) const;
  void write(int64_t layer, bool values, int64_t head, int64_t p0, int64_t n, const float* in);

  // Multimodal rope (M-RoPE): the text token at index i takes rotary
  // position i + rope_shift(i), which is 0 until an image moved the text
  // positions on (its soft tokens span fewer positions than tokens). The
  // model records a shift from the index after each image; truncate and fork
  // keep the shifts of the positions they keep.
  int64_t rope_shift(int64_t index) const noexcept;
  void set_rope_shift(int64_t from_index, int64_t shift);
  // Every recorded (from index, shift), by increasing index (saved with the cache).
  const std::vector<std::pair<int64_t, int64_t>>& rope_shifts() const noexcept { return rope_shifts_; }

  // Bytes of the blocks this sequence holds (shared blocks counted in full).
  uint64_t bytes() const noexcept { return static_cast<uint64_t>(capacity()) * pool_->bytes_per_position(); }

 private:
  std::shared_ptr<KVPool> pool_;
  std::vector<int32_t> table_;
  int64_t size_ = 0;
  std::vector<std::pair<int64_t, int64_t>> rope_shifts_;  // (from index, shift), by increasing index
};

}  // namespace allm
