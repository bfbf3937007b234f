#pragma once
// An in-memory LRU of loaded models, keyed by resolved path (+ options).
// Values are type-erased shared_ptrs, so the same cache holds checkpoints or
// fully built engine models: a second request for a key is served without
// loading again. Evicting only drops the cache's reference; a model stays
// alive while a caller still holds it.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <typeindex>
#include <vector>

#include <nlohmann/json.hpp>

namespace allm {

struct CachedModelInfo {
  std::string key;
  std::string type;       // C++ type of the cached value
  uint64_t bytes = 0;     // weight bytes when the value reports them, else 0
  uint64_t hits = 0;      // requests served from the cache
  std::chrono::system_clock::time_point loaded_at, last_used;
};

class ModelCache {
 public:
  explicit ModelCache(size_t max_models = 2);
  ModelCache(const ModelCache&) = delete;
  ModelCache& operator=(const ModelCache&) = delete;

  // The process-wide cache (`max_cached_models` from the config sets its size;
  // a new process starts empty).
  static ModelCache& instance();

  // Capacity 0 disables caching (every request loads). Shrinking evicts.
  void set_capacity(size_t max_models);
  size_t capacity() const;

  // Returns the cached value for `key`, or runs `load` once (concurrent
  // requests for the same key wait for that one load) and caches its result,
  // evicting the least recently used entries beyond capacity. A failed load
  // caches nothing and rethrows. Throws InvalidArgumentError when `key` holds
  // a value of another type.
  template <typename T>
  std::shared_ptr<T> get_or_load(const std::string& key, const std::function<std::shared_ptr<T>()>& load) {
    auto erased = get_or_load_erased(key, typeid(T), [&]() -> Loaded {
      std::shared_ptr<T> v = load();
      // Stored as void*; constness is restored by the cast below.
      return {std::const_pointer_cast<std::remove_const_t<T>>(v), bytes_of(v.get())};
    });
    return std::static_pointer_cast<std::remove_const_t<T>>(erased);
  }

  // The cached value, or nullptr when absent, still loading, or of another type.
  template <typename T>
  std::shared_ptr<T> find(const std::string& key) {
    return std::static_pointer_cast<std::remove_const_t<T>>(find_erased(key, typeid(T)));
  }

  bool contains(const std::string& key) const;
  bool unload(const std::string& key);  // false when absent
  void clear();
  std::vector<CachedModelInfo> list() const;  // most recently used first
  uint64_t loads() const;                     // loads run so far (for tests and benchmarks)

 private:
  struct Loaded {
    std::shared_ptr<void> value;
    uint64_t bytes = 0;
  };
  struct Slot;

  template <typename T>
  static uint64_t bytes_of(const T* v) {
    if constexpr (requires { v->weights->total_bytes(); }) {
      return v && v->weights ? v->weights->total_bytes() : 0;
    } else if constexpr (requires { v->memory_bytes(); }) {
      return v ? v->memory_bytes() : 0;
    } else {
      return 0;
    }
  }

  std::shared_ptr<void> get_or_load_erased(const std::string& key, std::type_index type,
                                           const std::function<Loaded()>& load);
  std::shared_ptr<void> find_erased(const std::string& key, std::type_index type);
  void evict_locked();

  mutable std::mutex mutex_;
  size_t capacity_;
  uint64_t tick_ = 0;
  uint64_t loads_ = 0;
  std::map<std::string, std::shared_ptr<Slot>> slots_;
};

// Cache key of a model: its resolved path plus the options that change what
// gets built (an empty/null `options` adds nothing).
std::string model_cache_key(const std::string& resolved_path, const nlohmann::json& options = nullptr);

}  // namespace allm
