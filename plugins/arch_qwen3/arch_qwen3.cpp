// Qwen3: Llama blocks with per-head RMSNorm of queries and keys (before rope),
// an explicit head_dim, usually tied embeddings.
#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/gguf_family.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class Qwen3Factory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    if (cfg.boolean("use_sliding_window", false)) apply_layer_types(cfg, spec);
    StandardLayerNames names;
    names.qk_norm = true;
    names.qkv_bias = cfg.boolean("attention_bias", false);
    const bool tied = cfg.boolean("tie_word_embeddings", false);
    return make_decoder_model(spec, bind_standard(ckpt, spec, names, tied), options);
  }
};

Qwen3Factory factory;
const allm::Component components[] = {allm::architecture_component("qwen3", 100, factory)};

// GGUF: llama.cpp's `qwen3` (Llama names plus attn_q_norm/attn_k_norm).
const bool gguf_declared = [] {
  gguf::GgufFamily f;
  f.model_type = "qwen3";
  f.architecture = "qwen3";
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its folder name.
const bool names_declared = (register_model_type_names({"qwen3", {}, {"qwen3"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-qwen3", "1.0.0", "Qwen3 architecture (model_type qwen3)", components)
