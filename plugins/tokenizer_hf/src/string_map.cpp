#include "string_map.hpp"

namespace allm::hf {

void PairMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  if (cap <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  size_ = 0;
  for (auto& s : old)
    if (s.key != kEmpty) put(static_cast<TokenId>(s.key >> 32), static_cast<TokenId>(s.key & 0xffffffffu), s.merge);
}

void PairMap::grow() { reserve(slots_.empty() ? 8 : slots_.size()); }

void PairMap::put(TokenId left, TokenId right, Merge merge) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  uint64_t key = pack(left, right);
  size_t i = hash(key) & mask_;
  while (true) {
    Slot& s = slots_[i];
    if (s.key == kEmpty) {
      s.key = key;
      s.merge = merge;
      ++size_;
      return;
    }
    if (s.key == key) {
      s.merge = merge;
      return;
    }
    i = (i + 1) & mask_;
  }
}

}  // namespace allm::hf
