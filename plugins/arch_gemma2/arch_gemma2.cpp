// Gemma 2: (1 + w) RMSNorms in a sandwich around attention and MLP, GELU-tanh
// MLP, embeddings scaled by sqrt(hidden), attention and final logit
// soft-capping, query_pre_attn_scalar, sliding window on alternate layers.
#include <cmath>

#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/gguf_family.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class Gemma2Factory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = gemma_like_spec(cfg);
    // Without layer_types, even layers slide (Gemma 2's fixed pattern).
    apply_layer_types(cfg, spec, 0, [](int64_t i) { return i % 2 == 0; });
    const StandardLayerNames names = gemma_sandwich_names();
    const bool tied = cfg.boolean("tie_word_embeddings", true);
    return make_decoder_model(spec, bind_standard(ckpt, spec, names, tied), options);
  }
};

Gemma2Factory factory;
const allm::Component components[] = {allm::architecture_component("gemma2", 100, factory)};

// GGUF: llama.cpp's `gemma2`: norms stored as 1 + w, sandwich norm names, a
// fixed pattern (even layers slide), soft-capping from its own keys. allm
// convert does not write it (llama.cpp's converter wants tokenizer.model).
const bool gguf_declared = [] {
  gguf::GgufFamily f = gguf::gemma_sandwich_family("gemma2", "gemma2");
  f.writable = false;
  f.read_config = [](const gguf::File& file, nlohmann::json& c) {
    gguf::read_gemma_config(file, c, 2);  // even layers slide
    c["attn_logit_softcapping"] = gguf::metadata_number(file, "attn_logit_softcapping").value_or(50.0);
    c["final_logit_softcapping"] = gguf::metadata_number(file, "final_logit_softcapping").value_or(30.0);
  };
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its folder name.
const bool names_declared = (register_model_type_names({"gemma2", {}, {"gemma-2", "gemma2"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-gemma2", "1.0.0", "Gemma 2 architecture (model_type gemma2)", components)
