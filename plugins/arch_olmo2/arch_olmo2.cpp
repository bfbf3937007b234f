// OLMo 2: Llama blocks with the norms moved after attention and after the MLP
// (the residual stream goes into both unnormed), and RMSNorm of queries and
// keys over the whole projected width (all heads together, before rope).
#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/error.hpp"
#include "allm/gguf_family.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class Olmo2Factory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    spec.qk_norm_whole_width = true;
    StandardLayerNames names;
    names.attn_norm = names.ffn_norm = "";
    names.post_attn_norm = "post_attention_layernorm";
    names.post_ffn_norm = "post_feedforward_layernorm";
    names.qk_norm = true;
    names.qkv_bias = names.o_bias = cfg.boolean("attention_bias", false);
    const bool tied = cfg.boolean("tie_word_embeddings", false);
    return make_decoder_model(spec, bind_standard(ckpt, spec, names, tied), options);
  }
};

Olmo2Factory factory;
const allm::Component components[] = {allm::architecture_component("olmo2", 100, factory)};

// GGUF: llama.cpp's `olmo2`: the post-norms as post_attention_norm /
// post_ffw_norm (no pre-norms), whole-width attn_q_norm / attn_k_norm.
const bool gguf_declared = [] {
  gguf::GgufFamily f;
  f.model_type = "olmo2";
  f.architecture = "olmo2";
  f.layer_tensors = {{"post_attention_norm.weight", "post_attention_layernorm.weight"},
                     {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
                     {"ffn_norm.weight", ""}};
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its folder name.
const bool names_declared = (register_model_type_names({"olmo2", {}, {"olmo-2", "olmo2"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-olmo2", "1.0.0", "OLMo 2 architecture (model_type olmo2)", components)
