#pragma once
// The local provider's cache-state blob: the token ids held in a KV cache and
// the cache's keys/values for those positions, so a saved chat resumes
// without prefilling its history again.
//
// Layout (little-endian): "ALLMKV01", u64 positions, u64 layers, u64 kv_heads,
// u64 head_dim, i32 ids[positions], then per layer K and V as
// f32[kv_heads][positions][head_dim].
#include <cstdint>
#include <memory>
#include <vector>

#include "allm/kv_cache.hpp"
#include "allm/kv_pool.hpp"
#include "allm/model.hpp"
#include "allm/tokenizer.hpp"

namespace allm::local {

std::vector<uint8_t> save_kv_blob(KVCache& cache, const std::vector<TokenId>& ids, const KVShape& shape);

struct RestoredKv {
  std::unique_ptr<KVCache> cache;
  std::vector<TokenId> ids;
};
// Throws IoError naming the byte offset when the blob is malformed or made
// for another shape. `shape`: the model's (its caches' pool shape).
RestoredKv load_kv_blob(const std::vector<uint8_t>& blob, const Model& model, const KVShape& shape);

}  // namespace allm::local
