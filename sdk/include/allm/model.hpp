#pragma once
// A model ready to run: forward passes over token batches with a KV cache.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "allm/kv_cache.hpp"

namespace allm {

struct ModelInfo {
  std::string model_type;
  int64_t vocab_size = 0;
  int64_t context_length = 0;  // max_position_embeddings
  int64_t hidden_size = 0;
  int64_t layers = 0;
  uint64_t weight_bytes = 0;     // all weights as stored
  uint64_t bytes_per_token = 0;  // weight bytes one decode step reads
};

enum class LogitsMode { all, last };

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;
  // A cache for this model; `capacity` positions preallocated (0: a default).
  virtual std::unique_ptr<KVCache> make_cache(int64_t capacity = 0) const = 0;
  // Runs `tokens` at positions cache.size() .. cache.size()+n-1, appends their
  // keys/values to the cache and writes logits: [n][vocab] for `all`, [vocab]
  // for `last`. One forward call at a time per model (scratch is shared).
  // Token ids outside the vocabulary throw InvalidArgumentError.
  virtual void forward(std::span<const int32_t> tokens, KVCache& cache, LogitsMode mode, float* logits) = 0;
};

}  // namespace allm
