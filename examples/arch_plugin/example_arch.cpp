// An out-of-tree architecture plugin: model_type "example_llama", a Llama
// decoder (pre-norm blocks, grouped-query attention, SwiGLU, rope) built from
// the engine's reusable pieces (allm/arch_helpers.hpp). A checkpoint whose
// config.json says "model_type": "example_llama" runs through it.
#include "allm/arch_helpers.hpp"
#include "allm/plugin.hpp"

namespace {

class ExampleLlamaFactory final : public allm::ArchitectureFactory {
 public:
  std::unique_ptr<allm::Model> create(const allm::Checkpoint& ckpt, const allm::ModelOptions& options) const override {
    allm::ConfigView cfg(ckpt);
    allm::DecoderSpec spec = allm::llama_like_spec(cfg);
    allm::StandardLayerNames names;
    const bool tied = cfg.boolean("tie_word_embeddings", false);
    return allm::make_decoder_model(spec, allm::bind_standard(ckpt, spec, names, tied), options);
  }
};

ExampleLlamaFactory factory;
const allm::Component components[] = {allm::architecture_component("example_llama", 100, factory)};

}  // namespace

ALLM_DEFINE_PLUGIN("example-arch", "1.0.0", "Example architecture (model_type example_llama)", components)
