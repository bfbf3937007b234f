#include "prompt_cache.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>

#include "allm/compute.hpp"

namespace allm::local {

SharedPromptCache::~SharedPromptCache() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_filler_.notify_all();
  if (filler_.joinable()) filler_.join();
}

void SharedPromptCache::keep_spare(int64_t blocks) {
  std::lock_guard lock(mutex_);
  if (!pool_ || blocks <= 0 || !pool_->in_host_memory()) return;
  spare_target_ = blocks;
  fill_wanted_ = true;
  if (!filler_.joinable()) filler_ = std::thread([this] { fill_spare(); });
  wake_filler_.notify_one();
}

void SharedPromptCache::fill_spare() {
  sched_param idle{};
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);  // best effort: it still works at normal priority
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_filler_.wait(lock, [&] { return stop_ || fill_wanted_; });
    if (stop_) return;
    fill_wanted_ = false;
    const std::shared_ptr<KVPool> pool = pool_;
    const int64_t target = spare_target_;
    lock.unlock();
    while (!stop_ && pool->add_spare_block(target)) {
    }
    lock.lock();
  }
}

std::shared_ptr<KVPool> SharedPromptCache::pool(const Model& model, uint64_t budget_bytes, KVType type) {
  std::lock_guard lock(mutex_);
  if (!pool_) pool_ = model.make_pool(budget_bytes, type);
  return pool_->type() == type ? pool_ : nullptr;
}

SharedPromptCache::Match SharedPromptCache::longest_prefix(const std::vector<TokenId>& ids, size_t limit) {
  std::lock_guard lock(mutex_);
  Entry* best = nullptr;
  size_t best_len = 0;
  for (auto& e : entries_) {
    const size_t n = std::min({limit, ids.size(), e.ids.size(), static_cast<size_t>(e.cache->size())});
    size_t len = 0;
    while (len < n && ids[len] == e.ids[len]) ++len;
    if (len > best_len) {
      best = &e;
      best_len = len;
    }
  }
  Match m;
  if (!best) return m;
  best->used = ++clock_;
  m.cache = best->cache->fork(static_cast<int64_t>(best_len));
  m.tokens = best_len;
  return m;
}

void SharedPromptCache::remember(const std::vector<TokenId>& ids, const KVCache& cache, uint64_t max_bytes) {
  if (ids.empty() || max_bytes == 0) return;
  const size_t n = std::min(ids.size(), static_cast<size_t>(cache.size()));
  std::lock_guard lock(mutex_);
  if (cache.pool() != pool_) return;  // a cache of its own (a restored session): not shareable
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool extended = it->ids.size() <= n && std::equal(it->ids.begin(), it->ids.end(), ids.begin());
    if (!extended) {
      const bool covered = n <= it->ids.size() && std::equal(ids.begin(), ids.begin() + static_cast<long>(n), it->ids.begin());
      if (covered) {  // already held by a longer snapshot
        it->used = ++clock_;
        return;
      }
      ++it;
      continue;
    }
    it = entries_.erase(it);  // the new snapshot holds all of it and more
  }
  Entry e;
  e.ids.assign(ids.begin(), ids.begin() + static_cast<long>(n));
  e.cache = cache.fork(static_cast<int64_t>(n));
  e.used = ++clock_;
  entries_.push_back(std::move(e));
  auto held = [&] {
    uint64_t b = 0;
    for (auto& x : entries_) b += x.cache->bytes();
    return b;
  };
  while (!entries_.empty() && (entries_.size() > kMaxEntries || held() > max_bytes)) evict_lru();
}

void SharedPromptCache::make_room(int64_t blocks) {
  std::lock_guard lock(mutex_);
  while (!entries_.empty() && pool_ && pool_->blocks_available() < blocks) evict_lru();
}

void SharedPromptCache::evict_lru() {
  auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                 [](const Entry& a, const Entry& b) { return a.used < b.used; });
  entries_.erase(oldest);
}

bool SharedPromptCache::shares(const std::shared_ptr<KVPool>& pool) const {
  std::lock_guard lock(mutex_);
  return pool && pool == pool_;
}

size_t SharedPromptCache::entries() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

uint64_t SharedPromptCache::bytes() const {
  std::lock_guard lock(mutex_);
  uint64_t b = 0;
  for (auto& e : entries_) b += e.cache->bytes();
  return b;
}

}  // namespace allm::local
