#pragma once
// The decoder-only transformer that every bundled architecture composes: a
// token embedding, N blocks (norm -> attention -> residual, norm -> MLP or
// mixture of experts -> residual, with optional sandwich norms, or post-norms
// only), a final norm and an LM head. Architecture plugins only fill a DecoderSpec from their
// config and bind their tensor names into DecoderWeights (see
// docs/adding-an-architecture.md); all computation lives here and in the
// Backend.
#include <memory>
#include <string>
#include <vector>

#include "allm/architecture.hpp"
#include "allm/compute.hpp"

namespace allm {

struct LayerSpec {
  int64_t window = 0;  // sliding window in positions, 0 = full causal
  int rope = 0;        // index into DecoderSpec::ropes
  bool use_rope = true;  // false: no positional encoding at all (SmolLM3's NoPE layers)
  bool moe = false;    // mixture-of-experts MLP instead of the dense one
};

struct MoeSpec {
  int64_t experts = 0, top_k = 0;
  bool renormalize = true;  // divide the top-k softmax weights by their sum
};

struct DecoderSpec {
  std::string model_type;
  int64_t hidden = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate = 0, vocab = 0;
  int64_t context_length = 0;
  float norm_eps = 1e-6f;
  bool norm_plus_one = false;  // Gemma: x * (1 + w)
  float embed_scale = 1;       // Gemma: sqrt(hidden)
  Activation activation = Activation::silu;
  float swiglu_limit = 0;      // Activation::swiglu_clamped's clamp (gpt-oss: swiglu_limit)
  float attn_scale = 0;        // 0: 1/sqrt(head_dim)
  float attn_softcap = 0, final_softcap = 0;
  float residual_scale = 1;    // Granite: each block output times residual_multiplier before the add
  float logits_scale = 1;      // Granite: 1 / logits_scaling
  // q_norm/k_norm over the whole projected width (heads * head_dim, OLMo 2)
  // instead of per head.
  bool qk_norm_whole_width = false;
  std::vector<RopeConfig> ropes;
  std::vector<LayerSpec> layer;  // one per layer
  MoeSpec moe;
};

struct ExpertWeights {
  Tensor gate, up, down;
  std::vector<float> gate_bias{}, up_bias{}, down_bias{};  // gpt-oss (braces: {gate, up, down} stays complete)
};

// Absent optional pieces are empty vectors / invalid tensors.
struct LayerWeights {
  std::vector<float> attn_norm;       // before attention (empty: none, as OLMo 2)
  std::vector<float> post_attn_norm;  // sandwich: on the attention output
  std::vector<float> ffn_norm;        // before the MLP (empty: none)
  std::vector<float> post_ffn_norm;   // sandwich: on the MLP output
  std::vector<float> q_norm, k_norm;  // RMSNorm of queries/keys before rope: per head, or whole width
  std::vector<float> sinks;           // one learned logit per query head in every softmax (gpt-oss)
  Tensor q, k, v, o;
  std::vector<float> q_bias, k_bias, v_bias, o_bias;
  Tensor gate, up, down;  // dense MLP
  std::vector<float> gate_bias, up_bias, down_bias;
  Tensor router;          // [experts, hidden]
  std::vector<float> router_bias;
  std::vector<ExpertWeights> experts;
};

struct DecoderWeights {
  std::shared_ptr<WeightStore> store;  // keeps the mapped bytes alive
  // Tensors the plugin re-laid out (e.g. transposed) point into these.
  std::vector<std::shared_ptr<const void>> owned;
  Tensor embed;
  Tensor lm_head;  // == embed when tied
  std::vector<float> final_norm;
  std::vector<LayerWeights> layers;
};

std::unique_ptr<Model> make_decoder_model(DecoderSpec spec, DecoderWeights weights, const ModelOptions& options);

}  // namespace allm
