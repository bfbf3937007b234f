#pragma once
// The prompt cache shared by every provider running one loaded model (allm
// serve's --parallel slots, each a provider of its own): after a generation
// its sequence (prompt and reply) is kept as a copy-on-write snapshot in the
// model's paged KV pool; a later request, on any slot, starts from the
// longest common token prefix of any snapshot (a conversation's earlier turn,
// a shared system prompt, an agent's tool list) and prefills only the rest.
// Snapshots share blocks with the sequences they came from, so keeping one
// costs only the blocks that later diverge. Least recently used snapshots go
// first when the kept bytes pass the limit or the pool's budget needs room.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "allm/kv_cache.hpp"
#include "allm/model.hpp"
#include "allm/tokenizer.hpp"

namespace allm::local {

class SharedPromptCache {
 public:
  static constexpr size_t kMaxEntries = 64;

  SharedPromptCache() = default;
  ~SharedPromptCache();
  SharedPromptCache(const SharedPromptCache&) = delete;
  SharedPromptCache& operator=(const SharedPromptCache&) = delete;

  // The pool every sharing cache draws from, made on first use with the first
  // caller's budget and type. nullptr when `type` differs from that pool's
  // (that provider then keeps its own cache, unshared).
  std::shared_ptr<KVPool> pool(const Model& model, uint64_t budget_bytes, KVType type);

  struct Match {
    std::unique_ptr<KVCache> cache;  // a fork holding the shared prefix
    size_t tokens = 0;               // 0: no snapshot shares a prefix
  };
  // The longest prefix of `ids`, at most `limit` tokens, that a snapshot holds.
  Match longest_prefix(const std::vector<TokenId>& ids, size_t limit);

  // Keeps a snapshot of `cache`'s first ids.size() positions (which hold `ids`).
  // A snapshot that `ids` extends is replaced; then the least recently used
  // go while the snapshots hold more than `max_bytes` (0: keep none).
  void remember(const std::vector<TokenId>& ids, const KVCache& cache, uint64_t max_bytes);

  // Drops least recently used snapshots until the pool can supply `blocks`
  // more blocks (or no snapshot is left).
  void make_room(int64_t blocks);

  // Keeps `blocks` free blocks ready in the pool (KVPool::add_spare_block) so
  // that a request's prefill takes them instead of faulting fresh memory in
  // (a new request's blocks are new memory while the snapshots keep the old
  // ones). A background thread at the lowest CPU priority (SCHED_IDLE: it
  // runs only on an otherwise idle core, never slowing a forward call) fills
  // them; call again after a generation to top them up. Does nothing before
  // pool() made the pool, or for a pool outside host memory.
  void keep_spare(int64_t blocks);

  // Whether `pool` is the one this cache shares (made by pool()).
  bool shares(const std::shared_ptr<KVPool>& pool) const;
  size_t entries() const;
  uint64_t bytes() const;  // blocks the snapshots hold (shared ones counted in each)

 private:
  struct Entry {
    std::vector<TokenId> ids;
    std::unique_ptr<KVCache> cache;
    uint64_t used = 0;
  };
  void evict_lru();  // mutex_ held
  void fill_spare();  // the filler thread's loop

  mutable std::mutex mutex_;
  std::condition_variable wake_filler_;
  std::thread filler_;
  std::atomic<bool> stop_{false};
  bool fill_wanted_ = false;
  int64_t spare_target_ = 0;
  std::shared_ptr<KVPool> pool_;
  std::vector<Entry> entries_;
  uint64_t clock_ = 0;
};

}  // namespace allm::local
