#pragma once
// What architecture plugins use to read a checkpoint: typed config access that
// names the key on error, and a binder that fetches tensors by name and checks
// their shapes (ModelLoadError naming the tensor).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "allm/checkpoint.hpp"
#include "allm/decoder.hpp"

namespace allm {

class ConfigView {
 public:
  explicit ConfigView(const Checkpoint& ckpt) : json_(ckpt.config), origin_(ckpt.source.string()) {}
  // Present and not null.
  bool has(const std::string& key) const;
  int64_t integer(const std::string& key) const;  // ModelLoadError when absent
  int64_t integer(const std::string& key, int64_t fallback) const;
  double number(const std::string& key) const;
  double number(const std::string& key, double fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  std::string string(const std::string& key, const std::string& fallback) const;
  const nlohmann::json& json() const { return json_; }
  [[noreturn]] void fail(const std::string& key, const std::string& why) const;

 private:
  const nlohmann::json& json_;
  std::string origin_;
};

class WeightBinder {
 public:
  explicit WeightBinder(const Checkpoint& ckpt) : ckpt_(ckpt) {}
  bool has(const std::string& name) const;
  // A matrix of exactly [rows, cols], in the layout its kernels prefer
  // (WeightStore::prepared: GGUF blocks may come back interleaved).
  Tensor matrix(const std::string& name, int64_t rows, int64_t cols) const;
  // Rows [r0, r0+n) of a [total_rows, cols] matrix (fused projections).
  Tensor matrix_rows(const std::string& name, int64_t total_rows, int64_t cols, int64_t r0, int64_t n) const;
  // A vector of n values, widened to F32.
  std::vector<float> vector(const std::string& name, int64_t n) const;
  // Row r of a [rows, cols] tensor (stacked per-expert biases), widened to F32.
  std::vector<float> row(const std::string& name, int64_t rows, int64_t cols, int64_t r) const;
  // Slice `index` of a [slices, in, out] tensor stored input-major (y = x W,
  // as gpt-oss's fused experts are) as a [count, in] matrix in the [out, in]
  // layout the kernels take; its rows are the columns first, first + step, ...
  // (step 2 and first 0 / 1 split interleaved gate/up). Plain types only (F32,
  // F16, BF16), kept as stored; the copy's bytes are appended to `owned`
  // (DecoderWeights::owned keeps them alive).
  Tensor input_major_slice(const std::string& name, const std::vector<int64_t>& shape, int64_t index, int64_t first,
                           int64_t step, std::vector<std::shared_ptr<const void>>& owned) const;

 private:
  const Tensor& get(const std::string& name) const;
  const Tensor& checked(const std::string& name, int64_t rows, int64_t cols) const;  // shape + kernels exist
  const Checkpoint& ckpt_;
};

// The common Llama-family hyper-parameters (hidden_size, num_hidden_layers,
// heads, head_dim, intermediate_size, vocab_size, rms_norm_eps,
// max_position_embeddings, rope) with one rope and full attention everywhere.
DecoderSpec llama_like_spec(const ConfigView& cfg);

// A rope from rope_theta / rope_scaling / partial_rotary_factor / rope_interleaved.
// `base` overrides rope_theta; `with_scaling` false ignores rope_scaling.
RopeConfig rope_from_config(const ConfigView& cfg, int64_t head_dim, std::optional<double> base = std::nullopt,
                            bool with_scaling = true);

// Names of one standard (model.layers.N.*) block.
struct StandardLayerNames {
  std::string attn_norm = "input_layernorm";           // empty: none (post-norm blocks)
  std::string ffn_norm = "post_attention_layernorm";   // empty: none
  std::string post_attn_norm;  // empty: none
  std::string post_ffn_norm;   // empty: none
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;  // gate/up/down biases
  bool qk_norm = false;   // self_attn.{q,k}_norm: head_dim values, or the whole width with spec.qk_norm_whole_width
  bool dense_mlp = true;  // mlp.gate_proj/up_proj/down_proj
};

// Gemma 2 and 3: llama_like_spec with the activation from the config, norms
// applied as (1 + w), embeddings scaled by sqrt(hidden_size), attention scaled
// by 1/sqrt(query_pre_attn_scalar), and the optional attention and final
// logit soft-capping; and their sandwich norms (pre/post attention and
// feed-forward). Each family adds its layer pattern and q/k norms.
DecoderSpec gemma_like_spec(const ConfigView& cfg);
StandardLayerNames gemma_sandwich_names();

// Binds model.layers.{i}.{self_attn.{q,k,v,o}_proj, mlp.*, norms} for every layer,
// model.embed_tokens, model.norm and lm_head (or the tied embedding).
DecoderWeights bind_standard(const Checkpoint& ckpt, const DecoderSpec& spec, const StandardLayerNames& names,
                             bool tied_embeddings);

// Binds attention (q/k/v/o, optional biases and q/k norms) of layer i only.
void bind_standard_attention(const WeightBinder& b, const DecoderSpec& spec, int64_t i, const StandardLayerNames& names,
                             LayerWeights& lw);

std::string layer_prefix(int64_t i);  // "model.layers.<i>."

// Reads `layer_types` when present: "sliding_attention" layers get the
// `sliding_window` and rope number `sliding_rope`; without it, `default_sliding(i)`
// says which layers slide (nullptr: none).
void apply_layer_types(const ConfigView& cfg, DecoderSpec& spec, int sliding_rope = 0,
                       const std::function<bool(int64_t layer)>& default_sliding = nullptr);

// hidden_act / hidden_activation: silu, or a tanh-approximated GELU.
Activation activation_from_config(const ConfigView& cfg);

}  // namespace allm
