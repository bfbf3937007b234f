// Gemma 3 (text): Gemma 2's sandwich blocks plus (1 + w) q/k norms, a
// local/global layer pattern with separate rope bases (rope_local_base_freq
// for sliding layers, rope_theta + rope_scaling for global ones).
#include <cmath>

#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/gguf_family.hpp"
#include "allm/plugin.hpp"
#include "gemma3_vision.hpp"

namespace {

using namespace allm;

std::unique_ptr<Model> make_text_model(const Checkpoint& ckpt, const ModelOptions& options) {
  ConfigView cfg(ckpt);
  DecoderSpec spec = gemma_like_spec(cfg);
  spec.ropes.push_back(rope_from_config(cfg, spec.head_dim, cfg.number("rope_local_base_freq", 10000.0), false));
  const int64_t pattern = cfg.integer("sliding_window_pattern", cfg.integer("_sliding_window_pattern", 6));
  // Without layer_types: every pattern-th layer is global, the rest slide.
  apply_layer_types(cfg, spec, 1, [pattern](int64_t i) { return (i + 1) % pattern != 0; });
  StandardLayerNames names = gemma_sandwich_names();
  names.qk_norm = true;
  const bool tied = cfg.boolean("tie_word_embeddings", true);
  return make_decoder_model(spec, bind_standard(ckpt, spec, names, tied), options);
}

class Gemma3Factory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    return make_text_model(ckpt, options);
  }
};

// model_type gemma3 (Gemma3ForConditionalGeneration): the same decoder under
// the multimodal checkpoint's names, plus the vision tower when the config has one.
class Gemma3VisionFactory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    auto text = make_text_model(gemma3::language_model_view(ckpt), options);
    if (!gemma3::has_vision(ckpt)) return text;
    return gemma3::make_vision_model(ckpt, options, std::move(text));
  }
};

Gemma3Factory factory;
Gemma3VisionFactory vision_factory;
const allm::Component components[] = {allm::architecture_component("gemma3_text", 100, factory),
                                      allm::architecture_component("gemma3", 100, vision_factory)};

// GGUF: llama.cpp's `gemma3`: norms stored as 1 + w, sandwich norm names,
// llama.cpp's fixed pattern (every 6th layer global), the local rope base in
// rope.freq_base_swa, no soft-capping.
const bool gguf_declared = [] {
  gguf::GgufFamily f = gguf::gemma_sandwich_family("gemma3_text", "gemma3");
  f.read_config = [](const gguf::File& file, nlohmann::json& c) {
    gguf::read_gemma_config(file, c, 6);  // every 6th layer global
    c["rope_local_base_freq"] = gguf::metadata_number(file, "rope.freq_base_swa").value_or(10000.0);
    c["sliding_window_pattern"] = 6;
    c["final_logit_softcapping"] = nullptr;
    c["attn_logit_softcapping"] = nullptr;
  };
  f.write_metadata = [](const Checkpoint& ck, gguf::Writer& w) {
    const auto& c = ck.config;
    w.set("gemma3.rope.freq_base_swa", gguf::Value::f32(float(c.value("rope_local_base_freq", 10000.0))));
    if (c.contains("sliding_window") && c["sliding_window"].is_number_integer())
      w.set("gemma3.attention.sliding_window", gguf::Value::u32(uint32_t(c["sliding_window"].get<int64_t>())));
  };
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its transformers class name or its folder name.
const bool names_declared = (register_model_type_names({"gemma3_text", {"Gemma3ForCausalLM"}, {"gemma-3", "gemma3"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-gemma3-text", "1.1.0", "Gemma 3 architectures: text (gemma3_text) and with vision (gemma3)", components)
