#include "vision_model.hpp"

#include <string>

#include "allm/arch_helpers.hpp"
#include "allm/error.hpp"
#include "allm/vision.hpp"
#include "allm/vision_language_model.hpp"
#include "image_processor.hpp"
#include "vision_tower.hpp"

namespace allm::qwen_vl {

namespace {

class QwenVisionEncoder final : public VisionEncoder {
 public:
  QwenVisionEncoder(const Checkpoint& ckpt, const ModelOptions& options, int64_t text_hidden)
      : processor_(ImageProcessorConfig::load(ckpt.source)),
        tower_(ckpt, spec_of(ckpt), "visual.", options.threads) {
    ConfigView cfg(ckpt);
    image_token_ = static_cast<int32_t>(cfg.integer("image_token_id"));
    if (tower_.spec().out_hidden != text_hidden)
      cfg.fail("vision_config.out_hidden_size", "is " + std::to_string(tower_.spec().out_hidden) +
                                                    ", but the language model's hidden_size is " +
                                                    std::to_string(text_hidden));
    if (processor_.patch != tower_.spec().patch || processor_.merge != tower_.spec().merge ||
        processor_.temporal_patch != tower_.spec().temporal_patch)
      throw ModelLoadError((ckpt.source / "preprocessor_config.json").string() +
                           ": patch_size / merge_size / temporal_patch_size differ from config.json's vision_config");
  }

  std::string image_marker() const override { return "<|image_pad|>"; }
  std::string expand_marker(const ImageData& image) const override {
    std::string out;
    for (int64_t i = soft_token_count(image); i > 0; --i) out += "<|image_pad|>";
    return out;
  }
  int32_t soft_token_id() const override { return image_token_; }
  int64_t soft_token_count(const ImageData& image) const override {
    const auto [h, w] = merged_grid(image);
    return h * w;
  }
  std::pair<int64_t, int64_t> soft_token_grid(const ImageData& image) const override { return merged_grid(image); }
  bool bidirectional() const override { return false; }

  PixelValues preprocess(const ImageData& image) const override {
    Patches p = preprocess_image(image, processor_);
    PixelValues out;
    out.channels = 1;
    out.height = p.t * p.h * p.w;
    out.width = processor_.patch_values();
    out.grid = {p.t, p.h, p.w};
    out.data = std::move(p.values);
    return out;
  }

  std::vector<float> encode(const PixelValues& pixels) override {
    if (pixels.grid.size() != 3 || pixels.width != tower_.spec().patch_values() ||
        pixels.height != pixels.grid[0] * pixels.grid[1] * pixels.grid[2] ||
        static_cast<int64_t>(pixels.data.size()) != pixels.height * pixels.width)
      throw InvalidArgumentError("Qwen2.5-VL vision encoder: pixel values are not patches of this model");
    return tower_.forward(pixels.data.data(), PatchGrid{pixels.grid[0], pixels.grid[1], pixels.grid[2]});
  }

 private:
  static VisionSpec spec_of(const Checkpoint& ckpt) {
    ConfigView cfg(ckpt);
    return VisionSpec::from_config(cfg);
  }
  // Height and width of the merged patch grid the image is resized to.
  std::pair<int64_t, int64_t> merged_grid(const ImageData& image) const {
    int64_t h = image.height, w = image.width;
    if (processor_.do_resize) std::tie(h, w) = smart_resize(h, w, processor_);
    const int64_t f = processor_.patch * processor_.merge;
    return {h / f, w / f};
  }

  ImageProcessorConfig processor_;
  VisionTower tower_;
  int32_t image_token_ = 0;
};

}  // namespace

std::unique_ptr<Model> make_vision_model(const Checkpoint& ckpt, const ModelOptions& options,
                                         std::unique_ptr<Model> text) {
  auto vision = std::make_unique<QwenVisionEncoder>(ckpt, options, text->info().hidden_size);
  return std::make_unique<VisionLanguageModel>(std::move(text), std::move(vision));
}

}  // namespace allm::qwen_vl
