// Llama (1, 2, 3.x): pre-norm blocks, grouped-query attention, SwiGLU MLP,
// rope with optional llama3 / linear scaling.
#include "allm/arch_helpers.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class LlamaFactory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    StandardLayerNames names;
    names.qkv_bias = names.o_bias = cfg.boolean("attention_bias", false);
    names.mlp_bias = cfg.boolean("mlp_bias", false);
    const bool tied = cfg.boolean("tie_word_embeddings", false);
    return make_decoder_model(spec, bind_standard(ckpt, spec, names, tied), options);
  }
};

LlamaFactory factory;
const allm::Component components[] = {allm::architecture_component("llama", 100, factory)};

}  // namespace

ALLM_DEFINE_PLUGIN("arch-llama", "1.0.0", "Llama architecture (model_type llama)", components)
