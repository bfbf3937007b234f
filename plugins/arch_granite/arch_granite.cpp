// Granite (IBM Granite 3.x dense): Llama blocks with four multipliers —
// embeddings times embedding_multiplier, attention scores times
// attention_multiplier (instead of 1/sqrt(head_dim)), each block's output
// times residual_multiplier before it joins the residual stream, and logits
// divided by logits_scaling.
#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/error.hpp"
#include "allm/gguf_family.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class GraniteFactory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    spec.embed_scale = static_cast<float>(cfg.number("embedding_multiplier", 1.0));
    spec.residual_scale = static_cast<float>(cfg.number("residual_multiplier", 1.0));
    if (cfg.has("attention_multiplier")) spec.attn_scale = static_cast<float>(cfg.number("attention_multiplier"));
    const double logits_scaling = cfg.number("logits_scaling", 1.0);
    if (!(logits_scaling > 0)) cfg.fail("logits_scaling", "must be positive");
    spec.logits_scale = static_cast<float>(1.0 / logits_scaling);
    StandardLayerNames names;
    names.qkv_bias = names.o_bias = cfg.boolean("attention_bias", false);
    names.mlp_bias = cfg.boolean("mlp_bias", false);
    const bool tied = cfg.boolean("tie_word_embeddings", true);
    return make_decoder_model(spec, bind_standard(ckpt, spec, names, tied), options);
  }
};

GraniteFactory factory;
const allm::Component components[] = {allm::architecture_component("granite", 100, factory)};

// GGUF: llama.cpp's `granite`, converted as Llama (Q/K permuted); the
// multipliers under llama.cpp's names.
const bool gguf_declared = [] {
  gguf::GgufFamily f;
  f.model_type = "granite";
  f.architecture = "granite";
  f.permuted_qk = true;
  f.read_config = [](const gguf::File& file, nlohmann::json& c) {
    if (auto v = gguf::metadata_number(file, "embedding_scale")) c["embedding_multiplier"] = *v;
    if (auto v = gguf::metadata_number(file, "residual_scale")) c["residual_multiplier"] = *v;
    if (auto v = gguf::metadata_number(file, "attention.scale")) c["attention_multiplier"] = *v;
    if (auto v = gguf::metadata_number(file, "logit_scale")) c["logits_scaling"] = *v;
  };
  f.write_metadata = [](const Checkpoint& ck, gguf::Writer& w) {
    const auto& c = ck.config;
    const std::pair<const char*, const char*> keys[] = {{"embedding_multiplier", "granite.embedding_scale"},
                                                        {"residual_multiplier", "granite.residual_scale"},
                                                        {"attention_multiplier", "granite.attention.scale"},
                                                        {"logits_scaling", "granite.logit_scale"}};
    for (const auto& [hf, gguf_key] : keys)
      if (c.contains(hf) && c[hf].is_number()) w.set(gguf_key, gguf::Value::f32(float(c[hf].get<double>())));
  };
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its folder name.
const bool names_declared = (register_model_type_names({"granite", {}, {"granite"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-granite", "1.0.0", "Granite architecture (model_type granite)", components)
