#pragma once
// The local provider's cache-state blob: the token ids held in a KV cache and
// the cache's keys/values for those positions, so a saved chat resumes
// without prefilling its history again.
//
// Layout (little-endian): "ALLMKV02", u64 positions, u64 layers, u64 kv_heads,
// u64 head_dim, i32 ids[positions], then per layer K and V as
// f32[kv_heads][positions][head_dim], then u64 shifts and that many
// (i64 from index, i64 shift) pairs: the M-RoPE position shifts images left
// (KVCache::rope_shifts), without which text after an image would resume at
// the wrong positions. "ALLMKV01" blobs (no shifts) are still read.
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
