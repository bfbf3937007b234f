// Gemma 2: (1 + w) RMSNorms in a sandwich around attention and MLP, GELU-tanh
// MLP, embeddings scaled by sqrt(hidden), attention and final logit
// soft-capping, query_pre_attn_scalar, sliding window on alternate layers.
#include <cmath>

#include "allm/arch_helpers.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class Gemma2Factory final : public ArchitectureFactory {
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
    // Without layer_types, even layers slide (Gemma 2's fixed pattern).
    apply_layer_types(cfg, spec, 0, [](int64_t i) { return i % 2 == 0; });
    StandardLayerNames names;
    names.ffn_norm = "pre_feedforward_layernorm";
    names.post_attn_norm = "post_attention_layernorm";
    names.post_ffn_norm = "post_feedforward_layernorm";
    const bool tied = cfg.boolean("tie_word_embeddings", true);
    return make_decoder_model(spec, bind_standard(ckpt, spec, names, tied), options);
  }
};

Gemma2Factory factory;
const allm::Component components[] = {allm::architecture_component("gemma2", 100, factory)};

}  // namespace

ALLM_DEFINE_PLUGIN("arch-gemma2", "1.0.0", "Gemma 2 architecture (model_type gemma2)", components)
