#pragma once
// Qwen2.5-VL's vision tower (transformers' Qwen2_5_VisionTransformerPretrainedModel):
// a Conv3d patch embedding (one linear over each flattened 2x14x14x3 patch),
// blocks of RMSNorm -> attention with 2D rotary positions -> RMSNorm -> SiLU-gated
// MLP (all with biases), where most blocks attend only within windows of
// window_size pixels and the blocks in fullatt_block_indexes over the whole
// image, then the patch merger (RMSNorm, 2x2 neighbouring patches
// concatenated, Linear-GELU-Linear) into the language model's width.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "allm/arch_helpers.hpp"
#include "allm/checkpoint.hpp"
#include "allm/compute.hpp"
#include "allm/threadpool.hpp"

namespace allm::qwen_vl {

struct VisionSpec {
  int64_t depth = 0, hidden = 0, heads = 0, intermediate = 0, out_hidden = 0;
  int64_t in_channels = 3, patch = 14, temporal_patch = 2, merge = 2, window = 112;
  std::vector<int64_t> full_attention_blocks;
  float norm_eps = 1e-6f;
  int64_t head_dim() const { return hidden / heads; }
  int64_t patch_values() const { return in_channels * temporal_patch * patch * patch; }
  // Reads `vision_config` (ModelLoadError naming the key when it is missing or wrong).
  static VisionSpec from_config(const ConfigView& cfg);
};

// A patch grid in patches: t frames (images: 1) of h x w.
struct PatchGrid {
  int64_t t = 1, h = 0, w = 0;
  int64_t patches() const { return t * h * w; }
};

class VisionTower {
 public:
  // Binds `prefix`patch_embed / blocks.N / merger tensors (prefix "visual." on the hub).
  VisionTower(const Checkpoint& ckpt, const VisionSpec& spec, const std::string& prefix, int threads);
  const VisionSpec& spec() const { return s_; }
  // pixels: [grid.patches()][patch_values()] in the processor's order (2x2
  // merge units consecutive); returns [grid.patches() / merge^2][out_hidden].
  std::vector<float> forward(const float* pixels, const PatchGrid& grid);

 private:
  struct Block {
    std::vector<float> norm1, norm2, qkv_bias, proj_bias, gate_bias, up_bias, down_bias;
    Tensor qkv, proj, gate, up, down;
  };
  // For every patch, the index of the attention group (window) it belongs to.
  std::vector<int64_t> window_of(const PatchGrid& grid, int64_t* groups) const;
  void rotary(const PatchGrid& grid, std::vector<float>& cos, std::vector<float>& sin) const;
  void attention(const float* qkv, int64_t n, const std::vector<int64_t>& group, int64_t groups, float* out);

  VisionSpec s_;
  std::shared_ptr<WeightStore> store_;
  std::shared_ptr<Backend> be_;
  std::unique_ptr<ThreadPool> pool_;
  Tensor patch_embed_;
  std::vector<Block> blocks_;
  std::vector<float> merger_norm_, merger_bias0_, merger_bias2_;
  Tensor merger0_, merger2_;
};

}  // namespace allm::qwen_vl
