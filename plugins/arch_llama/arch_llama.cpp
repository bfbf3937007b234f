// Llama (1, 2, 3.x): pre-norm blocks, grouped-query attention, SwiGLU MLP,
// rope with optional llama3 / linear scaling.
#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/gguf_family.hpp"
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

// GGUF: llama.cpp's `llama` without experts; its converter permutes Q/K.
const bool gguf_declared = [] {
  gguf::GgufFamily f;
  f.model_type = "llama";
  f.architecture = "llama";
  f.permuted_qk = true;
  f.claims = [](const gguf::File& file) { return gguf::metadata_int(file, "expert_count").value_or(0) == 0; };
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its folder name.
const bool names_declared = (register_model_type_names({"llama", {}, {"llama"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-llama", "1.0.0", "Llama architecture (model_type llama)", components)
