#pragma once
// Piece -> ids memo for the model. Text repeats its words, so most pieces are
// answered from here. Bounded (stops growing when full) and thread-safe; a
// contended lock is skipped rather than waited for.
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "allm/tokenizer.hpp"
#include "string_map.hpp"

namespace allm::hf {

class WordCache {
 public:
  static constexpr size_t kCapacity = 200000;
  static constexpr size_t kMaxPieceBytes = 256;

  // Appends the cached ids to `out` and returns true on a hit.
  bool lookup(std::string_view piece, std::vector<TokenId>& out) const {
    if (piece.size() > kMaxPieceBytes) return false;
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    auto it = map_.find(piece);
    if (it == map_.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }
  void store(std::string_view piece, const TokenId* ids, size_t n) const {
    if (piece.size() > kMaxPieceBytes) return;
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock() || map_.size() >= kCapacity) return;
    map_.emplace(std::string(piece), std::vector<TokenId>(ids, ids + n));
  }

 private:
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> map_;
};

}  // namespace allm::hf
