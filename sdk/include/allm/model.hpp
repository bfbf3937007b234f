#pragma once
// A model ready to run: forward passes over token batches with KV caches.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "allm/error.hpp"
#include "allm/kv_cache.hpp"

namespace allm {

class VisionEncoder;  // allm/vision.hpp

struct ModelInfo {
  std::string model_type;
  int64_t vocab_size = 0;
  int64_t context_length = 0;  // max_position_embeddings
  int64_t hidden_size = 0;
  int64_t layers = 0;
  uint64_t weight_bytes = 0;     // all weights as stored
  uint64_t bytes_per_token = 0;  // weight bytes one decode step reads
  uint64_t kv_bytes_per_position = 0;  // KV cache bytes one cached position takes (F32 KV)
  std::string backend;                 // name of the compute backend it runs on ("cpu", ...)
};

// Which logits a forward call returns for a sequence's new tokens.
enum class LogitsMode { all, last, none };

// Input embeddings that stand for some consecutive tokens of a batch entry
// instead of those tokens' embedding rows: an image's soft tokens, as a vision
// encoder made them. The tokens keep their ids (the image placeholder token).
struct SoftTokens {
  int64_t index = 0;            // first of the entry's tokens it replaces
  int64_t count = 0;            // how many tokens
  const float* rows = nullptr;  // [count][hidden_size], used as they are (no embedding scale)
  // These tokens also attend to each other both ways, not only causally
  // (Gemma 3's images). They must all be in the same forward call.
  bool bidirectional = false;
  // The rows' layout on a grid_h x grid_w grid (row-major), for a model with
  // multimodal rope (M-RoPE, RopeConfig::sections): the token in row r,
  // column c takes positions (s, s + r, s + c), s being the position its
  // first token would have as text, and the text after it continues at
  // s + max(grid_h, grid_w). 0 x 0: a plain run (text positions). Ignored by
  // models without M-RoPE.
  int64_t grid_h = 0, grid_w = 0;
};

// One sequence's part of a batched forward call: `tokens` go at positions
// start .. start + n - 1 of `cache` (start -1: its current end; otherwise the
// cache is first truncated to `start`, which must not exceed its size).
// `soft_tokens` (in token order, not overlapping) replace some tokens' embeddings.
struct BatchEntry {
  KVCache* cache = nullptr;
  std::span<const int32_t> tokens;
  LogitsMode logits = LogitsMode::last;
  int64_t start = -1;
  std::span<const SoftTokens> soft_tokens = {};
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;
  // A cache in its own pool (no budget); `capacity` positions preallocated (0: a default).
  virtual std::unique_ptr<KVCache> make_cache(int64_t capacity = 0) const = 0;
  // A pool shared by many sequences (KVCache(pool)); budget_bytes 0: unlimited.
  virtual std::shared_ptr<KVPool> make_pool(uint64_t budget_bytes = 0, KVType type = KVType::f32) const = 0;

  // One forward pass over several sequences (prefill chunks and single decode
  // tokens mixed): every weight matrix is read once for all their tokens, and
  // each sequence attends only to its own cache. Logits rows ([vocab] each)
  // are written in entry order: all new positions of an `all` entry, the last
  // one of a `last` entry, none of a `none` entry. Each cache may appear once.
  // Bad input (token id outside the vocabulary, context window) is refused
  // before any cache changes; when the KV pool's budget cannot hold the new
  // positions, OutOfMemoryError leaves every cache's contents as they were
  // (apart from a requested rewind). One forward call at a time per model.
  virtual void forward(std::span<const BatchEntry> batch, float* logits) = 0;

  // One sequence: `tokens` at positions cache.size() ...; logits [n][vocab]
  // for `all`, [vocab] for `last`.
  void forward(std::span<const int32_t> tokens, KVCache& cache, LogitsMode mode, float* logits) {
    const BatchEntry entry{&cache, tokens, mode, -1};
    forward(std::span<const BatchEntry>(&entry, 1), logits);
  }

  // Like forward, but each chosen row is the final hidden state (after the
  // final norm, before the LM head: [hidden_size] floats) instead of logits:
  // what embedding models pool (allm/sentence_embedding.hpp). Appended in ABI
  // 2.2; a model without it throws UnsupportedError.
  virtual void forward_hidden(std::span<const BatchEntry> batch, float* hidden) {
    (void)batch;
    (void)hidden;
    throw UnsupportedError(info().model_type + " model: hidden states are not exposed (no embeddings)");
  }

  // The image side of a vision-language model (allm/vision.hpp); null for a
  // model that cannot see. Appended in engine ABI 2.
  virtual VisionEncoder* vision() { return nullptr; }
};

// Scratch memory of forward calls, sized ahead of use. The engine's models
// keep scratch (activations of every token of a call, and their backend's
// per-call buffers) that grows to the widest call seen; growing means fresh
// memory, whose pages fault in during that call: the first long prompt of a
// process would pay for it (tens of MB for a 0.6B model at 512 tokens). A
// model implementing this beside Model lets a caller pay it once, up front
// (allm serve and allm run do at load, for a prefill chunk). Reached through
// forward_scratch(), a dynamic_cast, so Model's own layout (the plugin ABI)
// is unchanged and a model without it (an older plugin's) is left as it is.
class ForwardScratch {
 public:
  // Sizes the scratch for forward calls of up to `tokens` tokens (all entries
  // of a call together: a prefill chunk, or one token per batched sequence)
  // and touches all of it, so that such a call allocates nothing and takes no
  // page fault in it. Never shrinks. Same threading rule as forward: not
  // while a forward call runs.
  virtual void reserve_scratch(int64_t tokens) = 0;
  // Tokens a forward call may carry without the scratch growing (0 before any
  // call or reservation).
  virtual int64_t scratch_tokens() const = 0;

 protected:
  ~ForwardScratch() = default;
};

// `model`'s ForwardScratch, or null when it has none.
inline ForwardScratch* forward_scratch(Model& model) { return dynamic_cast<ForwardScratch*>(&model); }

// Host memory for forward's output that the model's backend writes fastest:
// page-locked memory for a model whose LM head runs on a GPU (the GPU's copy
// engine writes it at the link's full rate; a download into ordinary, pageable
// memory goes through the driver's staging buffers at a fraction of that,
// which a step of 32 sequences' logits, 16 MB at a 128k vocabulary, pays
// every step), ordinary memory otherwise. Reached through output_memory(), a
// dynamic_cast like forward_scratch(); OutputBuffer below uses it where there.
class OutputMemory {
 public:
  // `floats` floats, freed only by free_output of the same model;
  // OutOfMemoryError when there is no such memory to be had.
  virtual float* alloc_output(size_t floats) = 0;
  virtual void free_output(float* p) noexcept = 0;

 protected:
  ~OutputMemory() = default;
};

// `model`'s OutputMemory, or null when it has none.
inline OutputMemory* output_memory(Model& model) { return dynamic_cast<OutputMemory*>(&model); }

// `floats` floats of `model`'s output memory, or of ordinary memory for a
// model without it (a wrapper model passes its inner model's on with these);
// give them back with free_output of the same model.
inline float* alloc_output(Model& model, size_t floats) {
  OutputMemory* memory = output_memory(model);
  return memory ? memory->alloc_output(floats) : new float[floats];
}
inline void free_output(Model& model, float* p) noexcept {
  if (OutputMemory* memory = output_memory(model)) memory->free_output(p);
  else delete[] p;
}

// A buffer of floats for a model's forward output (logits, hidden states):
// from the model's OutputMemory where it has one, else ordinary memory. It
// must not outlive the model. Contents are not kept when it grows.
class OutputBuffer {
 public:
  OutputBuffer() = default;
  OutputBuffer(Model& model, size_t floats) : model_(&model) { resize(floats); }
  ~OutputBuffer() { release(); }
  OutputBuffer(OutputBuffer&& o) noexcept
      : model_(o.model_), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  OutputBuffer& operator=(OutputBuffer&& o) noexcept {
    if (this != &o) {
      release();
      model_ = o.model_;
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;

  // Room for at least `floats` floats (a larger buffer when it has less).
  void resize(size_t floats) {
    if (floats <= size_) return;
    release();
    data_ = model_ ? alloc_output(*model_, floats) : new float[floats];
    size_ = floats;
  }
  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t size() const { return size_; }
  float& operator[](size_t i) { return data_[i]; }
  const float& operator[](size_t i) const { return data_[i]; }

 private:
  void release() noexcept {
    if (!data_) return;
    if (model_) free_output(*model_, data_);
    else delete[] data_;
    data_ = nullptr;
    size_ = 0;
  }
  Model* model_ = nullptr;  // null: a default-constructed buffer (ordinary memory)
  float* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace allm
