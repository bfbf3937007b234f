#pragma once
// Everything the local provider needs to run one model: the checkpoint, the
// built Model, its tokenizer and chat template. Built once per resolved path
// and thread count and kept in the loader's LRU ModelCache.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "allm/architecture.hpp"
#include "allm/chat_template.hpp"
#include "allm/checkpoint.hpp"
#include "allm/model.hpp"
#include "allm/model_cache.hpp"
#include "allm/model_loader.hpp"
#include "allm/sentence_embedding.hpp"
#include "allm/tokenizer.hpp"
#include "forward_batcher.hpp"
#include "prompt_cache.hpp"

namespace allm::local {

struct EngineModel {
  std::string id;  // what the user named (path or repo id)
  std::string resolved_path;
  Checkpoint checkpoint;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::optional<ChatTemplate> chat_template;
  ChatTemplateSource template_source;
  std::string bos_token, eos_token;  // texts passed to the template
  std::string fingerprint;          // identifies the weights for cache-state matching
  // Set for an embedding checkpoint (sentence-transformers layout: modules.json).
  std::optional<SentenceEmbeddingConfig> embedding;
  double load_ms = 0;
  // Model::forward shares scratch between calls, so every generation on this
  // model (from any provider sharing it) goes through the batcher, which runs
  // one forward at a time over the steps of all of them (continuous batching).
  std::unique_ptr<ForwardBatcher> batcher;
  // Sequences kept for prefix reuse by every provider on this model (the
  // server's slots): see prompt_cache.hpp. A pointer, so a const model can
  // still share it.
  std::unique_ptr<SharedPromptCache> prompt_cache = std::make_unique<SharedPromptCache>();

  uint64_t memory_bytes() const { return checkpoint.weights ? checkpoint.weights->total_bytes() : 0; }
};

// Resolves `spec` (path, .gguf, HF cache id), loads and builds it, or returns
// the cached one. Architecture and tokenizer plugins must be registered.
// `options`: threads, the compute backend (backend_name "": the usable one
// with the highest score) and its gpu_layers; a model loaded with other
// options is another model of the cache.
std::shared_ptr<EngineModel> load_engine_model(const std::string& spec, const ModelOptions& options = {},
                                               ModelCache& cache = ModelCache::instance());
// The same for a spec already resolved (to `resolved`).
std::shared_ptr<EngineModel> load_engine_model(const std::string& spec, const ResolvedModel& resolved,
                                               const ModelOptions& options = {},
                                               ModelCache& cache = ModelCache::instance());

}  // namespace allm::local
