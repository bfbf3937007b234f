#pragma once
// SigLIP's vision transformer, the image encoder of Gemma 3 (and PaliGemma):
// a patch embedding (a convolution with stride = kernel = patch size), learned
// position embeddings, pre-norm encoder blocks (LayerNorm, full bidirectional
// attention with q/k/v/out biases, LayerNorm, fc1 -> tanh-GELU -> fc2) and a
// final LayerNorm. Matrices are read in their stored format through a CPU
// backend; activations are F32.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/checkpoint.hpp"
#include "allm/compute.hpp"
#include "allm/vision.hpp"

namespace allm {

class ThreadPool;

struct SiglipConfig {
  int64_t hidden = 0, intermediate = 0, layers = 0, heads = 0;
  int64_t channels = 3, image_size = 0, patch = 0;
  float eps = 1e-6f;
  int64_t patches_per_side() const { return image_size / patch; }
  int64_t patches() const { return patches_per_side() * patches_per_side(); }
};

// From a transformers `vision_config` (siglip_vision_model); ModelLoadError
// naming `where` and the key when one is missing or out of range.
SiglipConfig siglip_config(const nlohmann::json& vision_config, const std::string& where);

class SiglipVisionTower {
 public:
  // Binds `prefix` + "embeddings.patch_embedding.weight", ... (checked shapes).
  // The patch embedding may be stored [hidden, channels, p, p] (PyTorch) or
  // [hidden, p, p, channels] (MLX).
  SiglipVisionTower(const Checkpoint& ckpt, const std::string& prefix, const SiglipConfig& config, int threads);
  ~SiglipVisionTower();
  // Pixel values [channels][image_size][image_size] -> the last hidden
  // states [patches][hidden] (after the final LayerNorm), patches row-major.
  std::vector<float> forward(const PixelValues& pixels);
  const SiglipConfig& config() const { return c_; }

 private:
  struct Layer;
  void attention(const Layer& l, const float* x, float* out);
  SiglipConfig c_;
  std::shared_ptr<Backend> be_;
  Tensor patch_w_;
  bool channels_last_ = false;  // MLX layout of the patch embedding
  std::vector<float> patch_b_, positions_, post_w_, post_b_;
  std::vector<Layer> layers_;
  std::unique_ptr<ThreadPool> pool_;  // attention's rows
  std::vector<float> rows_;           // one score row per thread
};

// y = (x - mean) / sqrt(var + eps) * w + b over each row of `dim` values.
void layer_norm(const float* x, const float* w, const float* b, int64_t rows, int64_t dim, float eps, float* y);

}  // namespace allm
