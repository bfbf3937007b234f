#pragma once
// A pool of fixed-size KV blocks shared by many sequences (a paged KV cache).
// One block holds `block_positions` consecutive positions of one sequence for
// every layer, keys and values: [layer][K,V][kv_head][position][row], each row
// head_dim values in the pool's KVType (kv_format.hpp).
// Sequences (KVCache) own a table of block ids; blocks are reference counted
// so a fork shares its parent's prefix and copies a block only when it writes
// into a shared one (copy-on-write). The pool never holds more than its byte
// budget: taking a block past it throws OutOfMemoryError naming the sizes.
// Blocks live in a Backend's memory (device memory for a GPU backend, host
// memory for the CPU's): the pool and KVCache only move them through the
// backend (alloc, copy, upload, download), never through host pointers.
// A model split over backends (--gpu-layers: the first layers on a GPU, the
// rest on the CPU) has a pool of layer parts: each block is one allocation
// per part, in that part's backend, holding that part's layers.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "allm/kv_format.hpp"

namespace allm {

class Backend;

// "4096", "512M", "4GiB", "1.5G" (K/M/G/T, with or without "iB"/"B"; powers
// of 1024) -> bytes; InvalidArgumentError naming `what` otherwise.
uint64_t parse_byte_size(const std::string& text, const std::string& what);

// What one sequence's cache stores.
struct KVShape {
  int64_t layers = 0, kv_heads = 0, head_dim = 0;
  int64_t max_positions = 0;  // the model's context window
};

// Layers [first_layer, the next part's first_layer) of every block, in `backend`'s memory.
struct KVLayerPart {
  std::shared_ptr<Backend> backend;
  int64_t first_layer = 0;
};

class KVPool {
 public:
  static constexpr int64_t kDefaultBlockPositions = 16;

  // budget_bytes 0: no limit beyond the memory of the machine. Blocks come
  // from `backend` (null: host memory, host_backend()).
  explicit KVPool(KVShape shape, uint64_t budget_bytes = 0, KVType type = KVType::f32,
                  int64_t block_positions = kDefaultBlockPositions, std::shared_ptr<Backend> backend = nullptr);
  // Blocks in parts: the first starts at layer 0, each later one at a
  // greater layer below shape.layers (InvalidArgumentError otherwise).
  KVPool(KVShape shape, uint64_t budget_bytes, KVType type, int64_t block_positions, std::vector<KVLayerPart> parts);
  ~KVPool();
  KVPool(const KVPool&) = delete;
  KVPool& operator=(const KVPool&) = delete;

  const KVShape& shape() const noexcept { return shape_; }
  // The backend whose memory holds layer `layer` of the blocks (never null;
  // one for every layer unless the pool has parts).
  Backend& backend(int64_t layer = 0) const noexcept { return *parts_[part_of(layer)].backend; }
  const std::vector<KVLayerPart>& parts() const noexcept { return parts_; }
  // Whether every block lies in host memory (every part's backend's domain is "host").
  bool in_host_memory() const;
  KVType type() const noexcept { return type_; }
  int64_t row_bytes() const noexcept { return row_bytes_; }  // one head's key or value at one position
  int64_t block_positions() const noexcept { return block_; }
  uint64_t bytes_per_position() const noexcept;  // all layers, keys and values
  uint64_t block_bytes() const noexcept { return bytes_per_position() * static_cast<uint64_t>(block_); }
  uint64_t budget_bytes() const noexcept { return budget_; }
  // Blocks (and their bytes) referenced by at least one sequence.
  int64_t blocks_in_use() const;
  uint64_t bytes_in_use() const { return static_cast<uint64_t>(blocks_in_use()) * block_bytes(); }
  // Blocks the budget still allows a sequence to take (free ones plus unallocated).
  int64_t blocks_available() const;

  // Allocates one block into the free list, zeroed, when fewer than `target`
  // are free and the budget allows one more; returns whether it did. A block
  // taken from the free list costs the forward call that takes it no
  // allocation and no page faults (a fresh block of a 0.6B model is 3.5 MiB
  // of F32 keys and values: ~900 pages touched for the first time), so a
  // server keeps a few ready, filled between requests. Host memory only
  // (in_host_memory(): the caller checks): the zeroing is
  // the host's, so it may run on any thread, beside forward calls.
  bool add_spare_block(int64_t target);
  // Blocks in the free list (taken without allocating).
  int64_t free_blocks() const;

  // ---- for KVCache and the model --------------------------------------------
  // A block with one reference; throws OutOfMemoryError past the budget.
  int32_t take();
  void retain(int32_t block);
  void release(int32_t block);
  int32_t refs(int32_t block) const;
  // The address in backend(layer)'s memory of the part of a block that
  // holds `layer` (stable while the block is referenced; other threads may
  // take blocks meanwhile, hence the lock).
  uint8_t* data(int32_t block, int64_t layer = 0) const;
  // Bytes from there to layer l's keys / values, and per kv head.
  int64_t key_offset(int64_t layer) const noexcept {
    return (layer - parts_[part_of(layer)].first_layer) * 2 * head_stride_ * shape_.kv_heads;
  }
  int64_t value_offset(int64_t layer) const noexcept { return key_offset(layer) + head_stride_ * shape_.kv_heads; }
  int64_t head_stride() const noexcept { return head_stride_; }  // block_positions * row_bytes
  // dst's bytes := src's, every part (copy-on-write of a shared block).
  void copy_block(int32_t dst, int32_t src) const;

 private:
  size_t part_of(int64_t layer) const noexcept {
    size_t p = 0;
    while (p + 1 < parts_.size() && parts_[p + 1].first_layer <= layer) ++p;
    return p;
  }
  uint64_t part_bytes(size_t part) const noexcept;  // one block's bytes in that part
  // One block's parts, allocated (and zeroed when `zero`) in their backends.
  std::vector<uint8_t*> allocate_block(bool zero);
  void free_block(const std::vector<uint8_t*>& parts) noexcept;

  KVShape shape_;
  uint64_t budget_;
  KVType type_;
  int64_t block_, row_bytes_, head_stride_;
  mutable std::mutex mutex_;
  std::vector<KVLayerPart> parts_;
  std::vector<std::vector<uint8_t*>> blocks_;  // per block, per part: backend memory, freed by the destructor
  std::vector<int32_t> refs_;
  std::vector<int32_t> free_;
  int64_t in_use_ = 0;
};

}  // namespace allm
