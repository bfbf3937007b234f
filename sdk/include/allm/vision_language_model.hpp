#pragma once
// A vision-language model as the engine runs it: the family's text decoder
// with its vision encoder beside it. Everything but vision() is the text
// model's (the soft tokens enter through BatchEntry::soft_tokens), so a
// family plugin only builds the two parts and names the whole.
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "allm/model.hpp"
#include "allm/vision.hpp"

namespace allm {

class VisionLanguageModel final : public Model, public ForwardScratch, public OutputMemory {
 public:
  // `model_type`: what info() reports, when the whole goes by another name
  // than its text decoder (Gemma 3's "gemma3" over "gemma3_text"); empty
  // keeps the text model's.
  VisionLanguageModel(std::unique_ptr<Model> text, std::unique_ptr<VisionEncoder> vision,
                      const std::string& model_type = {})
      : text_(std::move(text)), vision_(std::move(vision)), info_(text_->info()) {
    if (!model_type.empty()) info_.model_type = model_type;
  }
  const ModelInfo& info() const override { return info_; }
  std::unique_ptr<KVCache> make_cache(int64_t capacity) const override { return text_->make_cache(capacity); }
  std::shared_ptr<KVPool> make_pool(uint64_t budget_bytes, KVType type) const override {
    return text_->make_pool(budget_bytes, type);
  }
  using Model::forward;
  void forward(std::span<const BatchEntry> batch, float* logits) override { text_->forward(batch, logits); }
  void forward_hidden(std::span<const BatchEntry> batch, float* hidden) override {
    text_->forward_hidden(batch, hidden);
  }
  VisionEncoder* vision() override { return vision_.get(); }
  // The text decoder's scratch (the vision encoder sizes its own per image).
  void reserve_scratch(int64_t tokens) override {
    if (ForwardScratch* s = forward_scratch(*text_)) s->reserve_scratch(tokens);
  }
  int64_t scratch_tokens() const override {
    const ForwardScratch* s = dynamic_cast<const ForwardScratch*>(text_.get());
    return s ? s->scratch_tokens() : 0;
  }

  // The text decoder's output memory (page-locked for a model on a GPU).
  float* alloc_output(size_t floats) override { return allm::alloc_output(*text_, floats); }
  void free_output(float* p) noexcept override { allm::free_output(*text_, p); }

 private:
  std::unique_ptr<Model> text_;
  std::unique_ptr<VisionEncoder> vision_;
  ModelInfo info_;
};

}  // namespace allm
