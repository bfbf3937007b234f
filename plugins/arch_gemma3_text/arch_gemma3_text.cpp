// Gemma 3 (text): Gemma 2's sandwich blocks plus (1 + w) q/k norms, a
// local/global layer pattern with separate rope bases (rope_local_base_freq
// for sliding layers, rope_theta + rope_scaling for global ones).
#include <cmath>

#include "allm/arch_helpers.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class Gemma3Factory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    spec.norm_plus_one = true;
    spec.embed_scale = std::sqrt(static_cast<float>(spec.hidden));
    spec.attn_scale = 1.0f / std::sqrt(static_cast<float>(cfg.number("query_pre_attn_scalar", spec.head_dim)));
    spec.attn_softcap = static_cast<float>(cfg.number("attn_logit_softcapping", 0));
    spec.final_softcap = static_cast<float>(cfg.number("final_logit_softcapping", 0));
    spec.ropes.push_back(rope_from_config(cfg, spec.head_dim, cfg.number("rope_local_base_freq", 10000.0), false));
    const int64_t pattern = cfg.integer("sliding_window_pattern", cfg.integer("_sliding_window_pattern", 6));
    // Without layer_types: every pattern-th layer is global, the rest slide.
    apply_layer_types(cfg, spec, 1, [pattern](int64_t i) { return (i + 1) % pattern != 0; });
    StandardLayerNames names;
    names.ffn_norm = "pre_feedforward_layernorm";
    names.post_attn_norm = "post_attention_layernorm";
    names.post_ffn_norm = "post_feedforward_layernorm";
    names.qk_norm = true;
    const bool tied = cfg.boolean("tie_word_embeddings", true);
    return make_decoder_model(spec, bind_standard(ckpt, spec, names, tied), options);
  }
};

Gemma3Factory factory;
const allm::Component components[] = {allm::architecture_component("gemma3_text", 100, factory)};

}  // namespace

ALLM_DEFINE_PLUGIN("arch-gemma3-text", "1.0.0", "Gemma 3 text architecture (model_type gemma3_text)", components)
