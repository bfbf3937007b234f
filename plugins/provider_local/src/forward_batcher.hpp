#pragma once
// Continuous batching across providers that share one loaded model: every
// generation running on the model (each in its own thread, through
// allm::generate) sends its forward calls here, and the calls waiting at the
// same moment run as ONE Model::forward over all their sequences (the weights
// are read once for all of them). A generation that starts joins the running
// batch at the next step with its prefill chunk; one that ends leaves it.
//
// Leader/follower: the first caller finding the model idle runs the batch; it
// first waits until every active generation has sent its step, so sequences
// decoding together stay in the same forward call. The wait is bounded by half
// the duration of the last forward call (at least kGatherWindow, at most
// kMaxGatherWindow): a generation that misses a step costs a whole extra
// weight read (decode is memory-bound), and on a loaded machine a slot thread
// woken after a step can take milliseconds to be scheduled; leaving it behind
// once splits the slots into two groups that keep alternating.
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <span>
#include <vector>

#include "allm/model.hpp"

namespace allm::local {

class ForwardBatcher {
 public:
  static constexpr std::chrono::microseconds kGatherWindow{3000};
  static constexpr std::chrono::microseconds kMaxGatherWindow{500000};

  explicit ForwardBatcher(Model& model) : model_(model), merged_logits_(model, 0) {}

  // Same contract as Model::forward; blocks until this call's rows are done.
  void forward(std::span<const BatchEntry> batch, float* logits);

  // Model::forward_hidden (embeddings), run alone between batched steps.
  void forward_hidden(std::span<const BatchEntry> batch, float* hidden);

  // A generation in progress (RAII): the gather window waits for it.
  class Active {
   public:
    explicit Active(ForwardBatcher& b);
    ~Active();
    Active(const Active&) = delete;
    Active& operator=(const Active&) = delete;

   private:
    ForwardBatcher& b_;
  };

  // Forward calls that carried more than one generation's steps, and the
  // sequences in them (for tests and stats).
  uint64_t merged_calls() const;
  uint64_t merged_sequences() const;

 private:
  struct Call {
    std::span<const BatchEntry> batch;
    float* logits = nullptr;
    bool done = false;
    std::exception_ptr error;
  };
  void run(std::vector<Call*>& calls);
  size_t rows_of(const Call& c) const;
  std::chrono::microseconds gather_window() const;

  Model& model_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Call*> pending_;
  bool busy_ = false;
  size_t active_ = 0;
  std::chrono::microseconds last_forward_{0};  // duration of the last forward call
  OutputBuffer merged_logits_;                 // the merged call's rows, reused across steps
  uint64_t merged_calls_ = 0, merged_sequences_ = 0;
};

// A Model whose forward goes through a ForwardBatcher (for allm::generate);
// everything else is the wrapped model's.
class BatchedModel final : public Model, public OutputMemory {
 public:
  BatchedModel(Model& model, ForwardBatcher& batcher) : model_(model), batcher_(batcher) {}
  const ModelInfo& info() const override { return model_.info(); }
  std::unique_ptr<KVCache> make_cache(int64_t capacity = 0) const override { return model_.make_cache(capacity); }
  std::shared_ptr<KVPool> make_pool(uint64_t budget_bytes = 0, KVType type = KVType::f32) const override {
    return model_.make_pool(budget_bytes, type);
  }
  void forward(std::span<const BatchEntry> batch, float* logits) override { batcher_.forward(batch, logits); }
  void forward_hidden(std::span<const BatchEntry> batch, float* hidden) override {
    batcher_.forward_hidden(batch, hidden);
  }
  using Model::forward;
  // The wrapped model's output memory (page-locked for a model on a GPU).
  float* alloc_output(size_t floats) override { return allm::alloc_output(model_, floats); }
  void free_output(float* p) noexcept override { allm::free_output(model_, p); }

 private:
  Model& model_;
  ForwardBatcher& batcher_;
};

}  // namespace allm::local
