#include "allm/kv_pool.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "allm/compute.hpp"
#include "allm/error.hpp"

namespace allm {

uint64_t parse_byte_size(const std::string& text, const std::string& what) {
  auto bad = [&]() -> uint64_t {
    throw InvalidArgumentError(what + ": '" + text + "' is not a size (bytes, or a number with K, M, G or T, e.g. 512M, 4GiB)");
  };
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.')) return bad();
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  std::string unit(end);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  double scale = 1;
  if (unit == "K") scale = 1024.0;
  else if (unit == "M") scale = 1024.0 * 1024;
  else if (unit == "G") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty() && unit != "B") return bad();
  const double bytes = number * scale;
  if (!std::isfinite(bytes) || bytes < 0 || bytes > 1.8e19) return bad();
  return static_cast<uint64_t>(bytes);
}

KVPool::KVPool(KVShape shape, uint64_t budget_bytes, KVType type, int64_t block_positions,
               std::shared_ptr<Backend> backend)
    : KVPool(shape, budget_bytes, type, block_positions,
             std::vector<KVLayerPart>{{backend ? std::move(backend) : host_backend(), 0}}) {}

KVPool::KVPool(KVShape shape, uint64_t budget_bytes, KVType type, int64_t block_positions,
               std::vector<KVLayerPart> parts)
    : shape_(shape),
      budget_(budget_bytes),
      type_(type),
      block_(block_positions),
      row_bytes_(kv_row_bytes(type, shape.head_dim)),
      head_stride_(block_positions * row_bytes_),
      parts_(std::move(parts)) {
  if (shape.layers <= 0 || shape.kv_heads <= 0 || shape.head_dim <= 0 || shape.max_positions <= 0)
    throw InvalidArgumentError("KV pool: layers, kv heads, head dim and context window must be positive");
  if (block_positions <= 0 || block_positions > 4096)
    throw InvalidArgumentError("KV pool: block size must be between 1 and 4096 positions, got " +
                               std::to_string(block_positions));
  if (parts_.empty() || parts_[0].first_layer != 0)
    throw InvalidArgumentError("KV pool: the first layer part must start at layer 0");
  for (size_t p = 0; p < parts_.size(); ++p) {
    if (!parts_[p].backend) throw InvalidArgumentError("KV pool: layer part " + std::to_string(p) + " has no backend");
    if (p > 0 && (parts_[p].first_layer <= parts_[p - 1].first_layer || parts_[p].first_layer >= shape.layers))
      throw InvalidArgumentError("KV pool: layer part " + std::to_string(p) + " starts at layer " +
                                 std::to_string(parts_[p].first_layer) + ", not after the part before it and below " +
                                 std::to_string(shape.layers));
  }
  if (budget_ != 0 && budget_ < block_bytes())
    throw InvalidArgumentError("KV pool: a budget of " + std::to_string(budget_) + " bytes is smaller than one block (" +
                               std::to_string(block_bytes()) + " bytes for " + std::to_string(block_) +
                               " positions)");
}

KVPool::~KVPool() {
  for (const auto& b : blocks_) free_block(b);
}

bool KVPool::in_host_memory() const {
  for (const KVLayerPart& p : parts_)
    if (p.backend->memory_domain() != "host") return false;
  return true;
}

uint64_t KVPool::part_bytes(size_t part) const noexcept {
  const int64_t end = part + 1 < parts_.size() ? parts_[part + 1].first_layer : shape_.layers;
  return static_cast<uint64_t>(end - parts_[part].first_layer) * 2 * static_cast<uint64_t>(shape_.kv_heads * row_bytes_) *
         static_cast<uint64_t>(block_);
}

std::vector<uint8_t*> KVPool::allocate_block(bool zero) {
  std::vector<uint8_t*> bytes;
  try {
    for (size_t p = 0; p < parts_.size(); ++p) {
      bytes.push_back(static_cast<uint8_t*>(parts_[p].backend->alloc(part_bytes(p))));
      if (zero) parts_[p].backend->zero(bytes.back(), part_bytes(p));
    }
  } catch (...) {
    free_block(bytes);
    throw;
  }
  return bytes;
}

void KVPool::free_block(const std::vector<uint8_t*>& parts) noexcept {
  for (size_t p = 0; p < parts.size(); ++p) parts_[p].backend->free(parts[p]);
}

uint64_t KVPool::bytes_per_position() const noexcept {
  return static_cast<uint64_t>(shape_.layers) * 2 * static_cast<uint64_t>(shape_.kv_heads * row_bytes_);
}

int64_t KVPool::blocks_in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

int64_t KVPool::blocks_available() const {
  std::lock_guard lock(mutex_);
  const int64_t spare = static_cast<int64_t>(free_.size());
  if (budget_ == 0) return INT64_MAX;
  return spare + static_cast<int64_t>(budget_ / block_bytes()) - static_cast<int64_t>(blocks_.size());
}

int32_t KVPool::take() {
  std::lock_guard lock(mutex_);
  int32_t b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else {
    if (budget_ != 0 && (blocks_.size() + 1) * block_bytes() > budget_)
      throw OutOfMemoryError("KV cache budget exhausted: " + std::to_string(in_use_) + " blocks of " +
                             std::to_string(block_bytes()) + " bytes (" + std::to_string(block_) +
                             " positions each) are in use and the budget is " + std::to_string(budget_) +
                             " bytes (kv_budget / --kv-budget)");
    blocks_.push_back(allocate_block(true));
    refs_.push_back(0);
    b = static_cast<int32_t>(blocks_.size() - 1);
  }
  refs_[static_cast<size_t>(b)] = 1;
  ++in_use_;
  return b;
}

bool KVPool::add_spare_block(int64_t target) {
  const auto room = [&] { return budget_ == 0 || (blocks_.size() + 1) * block_bytes() <= budget_; };
  {
    std::lock_guard lock(mutex_);
    if (static_cast<int64_t>(free_.size()) >= target || !room()) return false;
  }
  // Outside the lock: sequences keep taking and releasing blocks meanwhile.
  std::vector<uint8_t*> bytes;
  try {
    bytes = allocate_block(false);
  } catch (const OutOfMemoryError&) {
    return false;  // a spare is an optimisation: a sequence that needs the block says so itself
  }
  for (size_t p = 0; p < bytes.size(); ++p) std::memset(bytes[p], 0, part_bytes(p));
  std::lock_guard lock(mutex_);
  if (!room()) {  // taken up to the budget meanwhile
    free_block(bytes);
    return false;
  }
  blocks_.push_back(std::move(bytes));
  refs_.push_back(0);
  free_.push_back(static_cast<int32_t>(blocks_.size() - 1));
  return true;
}

int64_t KVPool::free_blocks() const {
  std::lock_guard lock(mutex_);
  return static_cast<int64_t>(free_.size());
}

void KVPool::retain(int32_t block) {
  std::lock_guard lock(mutex_);
  ++refs_[static_cast<size_t>(block)];
}

void KVPool::release(int32_t block) {
  std::lock_guard lock(mutex_);
  if (--refs_[static_cast<size_t>(block)] == 0) {
    free_.push_back(block);
    --in_use_;
  }
}

uint8_t* KVPool::data(int32_t block, int64_t layer) const {
  const size_t part = part_of(layer);
  std::lock_guard lock(mutex_);
  return blocks_[static_cast<size_t>(block)][part];
}

void KVPool::copy_block(int32_t dst, int32_t src) const {
  for (size_t p = 0; p < parts_.size(); ++p)
    parts_[p].backend->copy(data(dst, parts_[p].first_layer), data(src, parts_[p].first_layer), part_bytes(p));
}

int32_t KVPool::refs(int32_t block) const {
  std::lock_guard lock(mutex_);
  return refs_[static_cast<size_t>(block)];
}

}  // namespace allm
