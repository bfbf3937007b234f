#include "allm/kv_cache.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "allm/compute.hpp"
#include "allm/error.hpp"

namespace allm {

KVCache::KVCache(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t max_positions, int64_t initial_capacity,
                 std::shared_ptr<Backend> backend)
    : pool_(std::make_shared<KVPool>(KVShape{layers, kv_heads, head_dim, max_positions}, 0, KVType::f32,
                                     KVPool::kDefaultBlockPositions, std::move(backend))) {
  reserve(std::min(max_positions, std::max<int64_t>(1, initial_capacity)));
}

KVCache::KVCache(std::shared_ptr<KVPool> pool) : pool_(std::move(pool)) {
  if (!pool_) throw InvalidArgumentError("KV cache: no pool");
}

KVCache::~KVCache() {
  for (int32_t b : table_) pool_->release(b);
}

void KVCache::reserve(int64_t positions) {
  if (positions <= capacity()) return;
  if (positions > max_positions())
    throw ContextWindowError("KV cache: " + std::to_string(positions) + " positions exceed the context window of " +
                             std::to_string(max_positions()));
  const int64_t bp = pool_->block_positions();
  const size_t want = static_cast<size_t>((positions + bp - 1) / bp), had = table_.size();
  try {
    while (table_.size() < want) table_.push_back(pool_->take());
  } catch (const OutOfMemoryError& e) {
    for (size_t i = had; i < table_.size(); ++i) pool_->release(table_[i]);
    table_.resize(had);
    throw OutOfMemoryError(std::string(e.what()) + "; this sequence needs " + std::to_string(positions) +
                           " positions (" + std::to_string(want) + " blocks)");
  }
}

void KVCache::truncate(int64_t n) {
  if (n < 0 || n > size_)
    throw InvalidArgumentError("KV cache: cannot truncate " + std::to_string(size_) + " positions to " +
                               std::to_string(n));
  size_ = n;
  while (!rope_shifts_.empty() && rope_shifts_.back().first > n) rope_shifts_.pop_back();
  // Blocks holding positions < n stay; the rest go back to the pool.
  const int64_t bp = pool_->block_positions();
  const size_t keep = static_cast<size_t>((n + bp - 1) / bp);
  while (table_.size() > keep) {
    pool_->release(table_.back());
    table_.pop_back();
  }
}

std::unique_ptr<KVCache> KVCache::fork(int64_t n) const {
  if (n < 0 || n > size_)
    throw InvalidArgumentError("KV cache: cannot fork " + std::to_string(n) + " positions of " +
                               std::to_string(size_));
  auto child = std::make_unique<KVCache>(pool_);
  const int64_t bp = pool_->block_positions();
  const size_t blocks = static_cast<size_t>((n + bp - 1) / bp);
  for (size_t i = 0; i < blocks; ++i) {
    pool_->retain(table_[i]);
    child->table_.push_back(table_[i]);
  }
  child->size_ = n;
  for (const auto& shift : rope_shifts_)
    if (shift.first <= n) child->rope_shifts_.push_back(shift);
  return child;
}

int64_t KVCache::rope_shift(int64_t index) const noexcept {
  int64_t shift = 0;
  for (const auto& [from, s] : rope_shifts_) {
    if (from > index) break;
    shift = s;
  }
  return shift;
}

void KVCache::set_rope_shift(int64_t from_index, int64_t shift) {
  while (!rope_shifts_.empty() && rope_shifts_.back().first >= from_index) rope_shifts_.pop_back();
  if (shift != rope_shift(from_index)) rope_shifts_.emplace_back(from_index, shift);
}

void KVCache::prepare_write(int64_t from, int64_t to) {
  reserve(to);
  const int64_t bp = pool_->block_positions();
  for (int64_t b = from / bp; b * bp < to; ++b) {
    int32_t& id = table_[static_cast<size_t>(b)];
    if (pool_->refs(id) == 1) continue;
    const int32_t copy = pool_->take();  // OutOfMemoryError leaves the shared block in place
    pool_->copy_block(copy, id);
    pool_->release(id);
    id = copy;
  }
}

// Positions of one kv head are consecutive rows inside a block, so save and
// load move one run per block through the backend and convert on the host.
void KVCache::read(int64_t layer, bool values, int64_t head, int64_t p0, int64_t n, float* out) const {
  const int64_t bp = pool_->block_positions(), d = pool_->shape().head_dim, row = pool_->row_bytes();
  const int64_t off = (values ? pool_->value_offset(layer) : pool_->key_offset(layer)) + head * pool_->head_stride();
  std::vector<uint8_t> run(static_cast<size_t>(bp * row));
  for (int64_t p = p0; p < p0 + n;) {
    const int64_t len = std::min(p0 + n, (p / bp + 1) * bp) - p;
    pool_->backend(layer).download(run.data(),
                                   pool_->data(table_[static_cast<size_t>(p / bp)], layer) + off + (p % bp) * row,
                                   static_cast<size_t>(len * row));
    for (int64_t i = 0; i < len; ++i) kv_decode_row(pool_->type(), run.data() + i * row, d, out + (p - p0 + i) * d);
    p += len;
  }
}

void KVCache::write(int64_t layer, bool values, int64_t head, int64_t p0, int64_t n, const float* in) {
  prepare_write(p0, p0 + n);
  const int64_t bp = pool_->block_positions(), d = pool_->shape().head_dim, row = pool_->row_bytes();
  const int64_t off = (values ? pool_->value_offset(layer) : pool_->key_offset(layer)) + head * pool_->head_stride();
  std::vector<uint8_t> run(static_cast<size_t>(bp * row));
  for (int64_t p = p0; p < p0 + n;) {
    const int64_t len = std::min(p0 + n, (p / bp + 1) * bp) - p;
    for (int64_t i = 0; i < len; ++i) kv_encode_row(pool_->type(), in + (p - p0 + i) * d, d, run.data() + i * row);
    pool_->backend(layer).upload(pool_->data(table_[static_cast<size_t>(p / bp)], layer) + off + (p % bp) * row,
                                 run.data(), static_cast<size_t>(len * row));
    p += len;
  }
}

}  // namespace allm
