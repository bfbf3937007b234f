// Qwen2 / Qwen2.5: Llama blocks with q/k/v projection biases; optional
// sliding window on layers from max_window_layers on.
#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/gguf_family.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class Qwen2Factory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    if (cfg.boolean("use_sliding_window", false)) {
      const int64_t first = cfg.integer("max_window_layers", spec.layers);
      for (int64_t i = first; i < spec.layers; ++i) spec.layer[i].window = cfg.integer("sliding_window");
    }
    StandardLayerNames names;
    names.qkv_bias = true;
    const bool tied = cfg.boolean("tie_word_embeddings", false);
    return make_decoder_model(spec, bind_standard(ckpt, spec, names, tied), options);
  }
};

Qwen2Factory factory;
const allm::Component components[] = {allm::architecture_component("qwen2", 100, factory)};

// GGUF: llama.cpp's `qwen2` (Llama names, q/k/v biases).
const bool gguf_declared = [] {
  gguf::GgufFamily f;
  f.model_type = "qwen2";
  f.architecture = "qwen2";
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its folder name.
const bool names_declared = (register_model_type_names({"qwen2", {}, {"qwen2"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-qwen2", "1.0.0", "Qwen2 architecture (model_type qwen2)", components)
