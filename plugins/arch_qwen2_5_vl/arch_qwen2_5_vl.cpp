// Qwen2.5-VL (model_type qwen2_5_vl, Qwen2_5_VLForConditionalGeneration):
// the Qwen2 language model with multimodal rope (rope_scaling.mrope_section:
// time/height/width position components) and a vision tower
// (vision_tower.hpp) whose merged patches stand for the <|image_pad|> tokens.
#include <filesystem>

#include "allm/arch_helpers.hpp"
#include "allm/error.hpp"
#include "allm/model_loader.hpp"
#include "allm/model_type_names.hpp"
#include "allm/plugin.hpp"
#include "text_config.hpp"
#include "vision_model.hpp"

namespace {

using namespace allm;

class Qwen25VLFactory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    const Checkpoint text = qwen_vl::text_checkpoint(ckpt);
    ConfigView cfg(text);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    if (spec.ropes[0].sections.empty())
      cfg.fail("rope_scaling.mrope_section", "is missing (Qwen2.5-VL positions text and images with M-RoPE)");
    if (cfg.boolean("use_sliding_window", false)) {
      const int64_t first = cfg.integer("max_window_layers", spec.layers);
      for (int64_t i = first; i < spec.layers; ++i) spec.layer[i].window = cfg.integer("sliding_window");
    }
    StandardLayerNames names;
    names.qkv_bias = true;
    const bool tied = cfg.boolean("tie_word_embeddings", false);
    auto model = make_decoder_model(spec, bind_standard(text, spec, names, tied), options);
    if (!ckpt.config.contains("vision_config")) return model;  // a language model alone
    return qwen_vl::make_vision_model(ckpt, options, std::move(model));
  }
};

Qwen25VLFactory factory;
const allm::Component components[] = {allm::architecture_component("qwen2_5_vl", 100, factory)};

// Recognised without a model_type by its class or folder name.
const bool names_declared =
    (register_model_type_names({"qwen2_5_vl", {"Qwen2_5_VLForConditionalGeneration"}, {"qwen2.5-vl", "qwen2_5_vl"}}),
     true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-qwen2-5-vl", "1.0.0", "Qwen2.5-VL architecture (model_type qwen2_5_vl)", components)
