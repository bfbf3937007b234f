// Mistral: Llama blocks with sliding-window attention on every layer.
#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/gguf_family.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class MistralFactory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    // A null sliding_window means full attention (Mistral 7B v0.2 and later).
    if (cfg.has("sliding_window")) apply_layer_types(cfg, spec, 0, [](int64_t) { return true; });
    const bool tied = cfg.boolean("tie_word_embeddings", false);
    return make_decoder_model(spec, bind_standard(ckpt, spec, StandardLayerNames{}, tied), options);
  }
};

MistralFactory factory;
const allm::Component components[] = {allm::architecture_component("mistral", 100, factory)};

// GGUF: llama.cpp writes Mistral as plain `llama` (no sliding window), so a
// file reads back as llama.
const bool gguf_declared = [] {
  gguf::GgufFamily f;
  f.model_type = "mistral";
  f.architecture = "llama";
  f.readable = false;
  f.permuted_qk = true;
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its folder name.
const bool names_declared = (register_model_type_names({"mistral", {}, {"mistral"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-mistral", "1.0.0", "Mistral architecture (model_type mistral)", components)
