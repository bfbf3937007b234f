#pragma once
// Qwen2.5-VL's image processor (transformers' Qwen2VLImageProcessor, the
// torchvision backend transformers 5 uses by default): the image is resized
// to the dimensions smart_resize picks (multiples of patch * merge, area
// within [min_pixels, max_pixels], aspect ratio kept as well as it can),
// rescaled and normalised, and cut into patches of temporal_patch x patch x
// patch, repeated over time for a still image, in the order the vision
// tower's patch merger expects (each 2x2 merge unit's patches consecutive).
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "allm/image_resample.hpp"
#include "allm/media.hpp"

namespace allm::qwen_vl {

struct ImageProcessorConfig {
  int64_t min_pixels = 56 * 56, max_pixels = 28 * 28 * 1280;
  int64_t patch = 14, temporal_patch = 2, merge = 2;
  bool do_resize = true, do_rescale = true, do_normalize = true;
  double rescale_factor = 1.0 / 255.0;
  std::vector<double> mean = {0.48145466, 0.4578275, 0.40821073}, std = {0.26862954, 0.26130258, 0.27577711};
  ResampleFilter resample = ResampleFilter::bicubic;
  // preprocessor_config.json of a checkpoint directory (defaults when absent);
  // ModelLoadError naming the file and key for a bad value.
  static ImageProcessorConfig load(const std::filesystem::path& checkpoint_dir);
  int64_t patch_values() const { return 3 * temporal_patch * patch * patch; }
};

// transformers' smart_resize: {height, width}. MediaError for an image
// smaller than patch * merge on a side or more than 200 times longer than wide.
std::pair<int64_t, int64_t> smart_resize(int64_t height, int64_t width, const ImageProcessorConfig& c);

struct Patches {
  int64_t t = 1, h = 0, w = 0;  // the patch grid
  std::vector<float> values;    // [t*h*w][patch_values()], merge units consecutive
};

Patches preprocess_image(const ImageData& image, const ImageProcessorConfig& c);

}  // namespace allm::qwen_vl
