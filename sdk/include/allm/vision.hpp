#pragma once
// Vision-language models: what turns an image into language-model input.
//
// A model that can see returns a VisionEncoder from Model::vision(). The
// local provider then renders the chat template with one {"type": "image"}
// content item per image; the template writes the encoder's image_marker()
// for each, and every marker, in order, becomes expand_marker(image) in the
// prompt text before it is tokenized (what the checkpoint's processor does).
// The expansion holds runs of soft_token_id(); encode() gives the embeddings
// that stand for one image's run (BatchEntry::soft_tokens), after preprocess()
// made pixel values exactly as the checkpoint's preprocessor_config.json says.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "allm/media.hpp"

namespace allm {

// Pixel values as a processor returns them: [channels][height][width], F32,
// unless `grid` gives the family's own layout (Qwen2.5-VL: patches of
// temporal x 14 x 14 x 3 values on a {t, h, w} patch grid, `height` of them
// of `width` values each, channels 1).
struct PixelValues {
  int64_t channels = 0, height = 0, width = 0;
  std::vector<float> data;
  std::vector<int64_t> grid;
};

class VisionEncoder {
 public:
  virtual ~VisionEncoder() = default;
  // What the chat template writes for an image ("<start_of_image>" for Gemma 3).
  virtual std::string image_marker() const = 0;
  // The prompt text one image's marker becomes.
  virtual std::string expand_marker(const ImageData& image) const = 0;
  // The token id the soft tokens stand in for, and how many stand for `image`.
  virtual int32_t soft_token_id() const = 0;
  virtual int64_t soft_token_count(const ImageData& image) const = 0;
  // Whether an image's soft tokens attend to each other both ways.
  virtual bool bidirectional() const = 0;
  // The soft tokens' layout on a grid {rows, columns} (SoftTokens::grid_h,
  // grid_w: M-RoPE positions, Qwen2.5-VL); {0, 0}: a plain run.
  virtual std::pair<int64_t, int64_t> soft_token_grid(const ImageData& image) const {
    (void)image;
    return {0, 0};
  }
  // Resize, rescale, normalise (and whatever else the processor does).
  // Throws MediaError for an image it cannot take (channels, size).
  virtual PixelValues preprocess(const ImageData& image) const = 0;
  // The soft tokens of one image: [soft_token_count][language model hidden size].
  virtual std::vector<float> encode(const PixelValues& pixels) = 0;
  // Both steps.
  std::vector<float> encode(const ImageData& image) { return encode(preprocess(image)); }
};

// transformers' convert_to_rgb: 3 channels, 8 bits; an alpha channel is
// composited over white with PIL's integer arithmetic (Image.alpha_composite),
// grey is replicated.
ImageData image_to_rgb(const ImageData& image);

}  // namespace allm
