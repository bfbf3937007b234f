#include "allm/model_cache.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>

#include "allm/error.hpp"
#include "allm/log.hpp"

namespace allm {

struct ModelCache::Slot {
  std::type_index type = typeid(void);
  std::shared_ptr<void> value;
  bool ready = false;
  std::exception_ptr error;
  std::condition_variable done;
  CachedModelInfo info;
  uint64_t last_tick = 0;
};

namespace {

std::string readable_type(std::type_index t) {
  int status = 0;
  char* s = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : t.name();
  std::free(s);
  return out;
}

}  // namespace

ModelCache::ModelCache(size_t max_models) : capacity_(max_models) {}

ModelCache& ModelCache::instance() {
  static ModelCache cache(2);
  return cache;
}

void ModelCache::set_capacity(size_t max_models) {
  std::lock_guard lock(mutex_);
  capacity_ = max_models;
  evict_locked();
}

size_t ModelCache::capacity() const {
  std::lock_guard lock(mutex_);
  return capacity_;
}

std::shared_ptr<void> ModelCache::get_or_load_erased(const std::string& key, std::type_index type,
                                                     const std::function<Loaded()>& load) {
  std::unique_lock lock(mutex_);
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    std::shared_ptr<Slot> slot = it->second;
    if (slot->type != type)
      throw InvalidArgumentError("model cache: '" + key + "' holds a " + readable_type(slot->type) + ", not a " +
                                 readable_type(type));
    slot->done.wait(lock, [&] { return slot->ready || slot->error; });
    if (slot->error) std::rethrow_exception(slot->error);
    slot->last_tick = ++tick_;
    slot->info.last_used = std::chrono::system_clock::now();
    ++slot->info.hits;
    return slot->value;
  }

  auto slot = std::make_shared<Slot>();
  slot->type = type;
  slot->info.key = key;
  slot->info.type = readable_type(type);
  slot->last_tick = ++tick_;
  slots_[key] = slot;
  ++loads_;
  lock.unlock();

  Loaded loaded;
  try {
    loaded = load();
  } catch (...) {
    lock.lock();
    slot->error = std::current_exception();
    slots_.erase(key);
    slot->done.notify_all();
    throw;
  }

  lock.lock();
  slot->value = loaded.value;
  slot->ready = true;
  slot->info.bytes = loaded.bytes;
  slot->info.loaded_at = slot->info.last_used = std::chrono::system_clock::now();
  slot->done.notify_all();
  evict_locked();
  return loaded.value;
}

std::shared_ptr<void> ModelCache::find_erased(const std::string& key, std::type_index type) {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(key);
  if (it == slots_.end() || !it->second->ready || it->second->type != type) return nullptr;
  it->second->last_tick = ++tick_;
  it->second->info.last_used = std::chrono::system_clock::now();
  ++it->second->info.hits;
  return it->second->value;
}

// Drops least recently used ready entries until the cache fits. Entries still
// loading are never evicted (their callers are waiting on them).
void ModelCache::evict_locked() {
  for (;;) {
    size_t ready = 0;
    std::map<std::string, std::shared_ptr<Slot>>::iterator victim = slots_.end();
    for (auto it = slots_.begin(); it != slots_.end(); ++it) {
      if (!it->second->ready) continue;
      ++ready;
      if (victim == slots_.end() || it->second->last_tick < victim->second->last_tick) victim = it;
    }
    if (ready <= capacity_ || victim == slots_.end()) return;
    log().debug("model cache: evicting '{}'", victim->first);
    slots_.erase(victim);
  }
}

bool ModelCache::contains(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(key);
  return it != slots_.end() && it->second->ready;
}

bool ModelCache::unload(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(key);
  if (it == slots_.end() || !it->second->ready) return false;
  slots_.erase(it);
  return true;
}

void ModelCache::clear() {
  std::lock_guard lock(mutex_);
  for (auto it = slots_.begin(); it != slots_.end();) it = it->second->ready ? slots_.erase(it) : std::next(it);
}

std::vector<CachedModelInfo> ModelCache::list() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<uint64_t, CachedModelInfo>> ready;
  for (const auto& [_, slot] : slots_)
    if (slot->ready) ready.emplace_back(slot->last_tick, slot->info);
  std::sort(ready.begin(), ready.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<CachedModelInfo> out;
  for (auto& [_, info] : ready) out.push_back(std::move(info));
  return out;
}

uint64_t ModelCache::loads() const {
  std::lock_guard lock(mutex_);
  return loads_;
}

std::string model_cache_key(const std::string& resolved_path, const nlohmann::json& options) {
  if (options.is_null() || (options.is_object() && options.empty())) return resolved_path;
  return resolved_path + "?" + options.dump();  // dump() sorts object keys: stable
}

}  // namespace allm
