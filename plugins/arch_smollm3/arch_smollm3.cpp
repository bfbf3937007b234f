// SmolLM3: Llama blocks where some layers use no positional encoding at all
// (NoPE): no_rope_layers[i] == 0 means layer i skips the rotary embedding.
// Without the list, every no_rope_layer_interval-th layer is NoPE.
#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/error.hpp"
#include "allm/gguf_family.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class SmolLM3Factory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    if (cfg.boolean("use_sliding_window", false)) apply_layer_types(cfg, spec);
    const auto& js = cfg.json();
    if (cfg.has("no_rope_layers")) {
      const auto& list = js["no_rope_layers"];
      if (!list.is_array() || static_cast<int64_t>(list.size()) != spec.layers)
        cfg.fail("no_rope_layers", "must list 0 or 1 for each of the " + std::to_string(spec.layers) + " layers");
      for (int64_t i = 0; i < spec.layers; ++i) {
        if (!list[i].is_number_integer() || (list[i] != 0 && list[i] != 1))
          cfg.fail("no_rope_layers[" + std::to_string(i) + "]", "must be 0 or 1, got " + list[i].dump());
        spec.layer[i].use_rope = list[i] == 1;
      }
    } else {
      const int64_t interval = cfg.integer("no_rope_layer_interval", 4);
      if (interval <= 0) cfg.fail("no_rope_layer_interval", "must be positive");
      for (int64_t i = 0; i < spec.layers; ++i) spec.layer[i].use_rope = (i + 1) % interval != 0;
    }
    StandardLayerNames names;
    names.qkv_bias = names.o_bias = cfg.boolean("attention_bias", false);
    names.mlp_bias = cfg.boolean("mlp_bias", false);
    const bool tied = cfg.boolean("tie_word_embeddings", true);
    return make_decoder_model(spec, bind_standard(ckpt, spec, names, tied), options);
  }
};

SmolLM3Factory factory;
const allm::Component components[] = {allm::architecture_component("smollm3", 100, factory)};

// GGUF: llama.cpp's `smollm3`, converted as Llama (Q/K permuted). llama.cpp
// skips rope on every 4th layer whatever no_rope_layers said: a file reads
// back with that pattern, and another pattern is refused on writing.
const bool gguf_declared = [] {
  gguf::GgufFamily f;
  f.model_type = "smollm3";
  f.architecture = "smollm3";
  f.permuted_qk = true;
  f.read_config = [](const gguf::File&, nlohmann::json& c) { c["no_rope_layer_interval"] = 4; };
  f.write_metadata = [](const Checkpoint& ck, gguf::Writer&) {
    const auto& c = ck.config;
    if (!c.contains("no_rope_layers") || !c["no_rope_layers"].is_array()) return;
    const auto& list = c["no_rope_layers"];
    for (size_t i = 0; i < list.size(); ++i)
      if ((list[i] == 1) != ((i + 1) % 4 != 0))
        throw UnsupportedError(ck.source.string() + ": no_rope_layers[" + std::to_string(i) +
                               "] differs from llama.cpp's fixed SmolLM3 pattern (every 4th layer without rope); "
                               "the GGUF would run differently");
  };
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its folder name.
const bool names_declared = (register_model_type_names({"smollm3", {}, {"smollm3"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-smollm3", "1.0.0", "SmolLM3 architecture (model_type smollm3)", components)
