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
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    spec.norm_plus_one = true;
    spec.embed_scale = std::sqrt(static_cast<float>(spec.hidden));
    spec.attn_scale = 1.0f / std::sqrt(static_cast<float>(cfg.number("query_pre_attn_scalar", spec.head_dim)));
    spec.attn_softcap = static_cast<float>(cfg.number("attn_logit_softcapping", 0));
    spec.final_softcap = static_cast<float>(cfg.number("final_logit_softcapping", 0));
    // Without layer_types, even layers slide (Gemma 2's fixed pattern).
    apply_layer_types(cfg, spec, 0, [](int64_t i) { return i % 2 == 0; });
    StandardLayerNames names;
    names.ffn_norm = "pre_feedforward_layernorm";
    names.post_attn_norm = "post_attention_layernorm";
    names.post_ffn_norm = "post_feedforward_layernorm";
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
  gguf::GgufFamily f;
  f.model_type = "gemma2";
  f.architecture = "gemma2";
  f.writable = false;
  f.norms_plus_one = true;
  f.layer_tensors = {{"ffn_norm.weight", "pre_feedforward_layernorm.weight"},
                     {"post_attention_norm.weight", "post_attention_layernorm.weight"},
                     {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"}};
  f.read_config = [](const gguf::File& file, nlohmann::json& c) {
    c["hidden_activation"] = c["hidden_act"] = "gelu_pytorch_tanh";
    c["query_pre_attn_scalar"] = c["head_dim"];
    nlohmann::json types = nlohmann::json::array();
    for (int64_t i = 0; i < c["num_hidden_layers"].get<int64_t>(); ++i)
      types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
    c["layer_types"] = types;
    if (auto w = gguf::metadata_int(file, "attention.sliding_window")) c["sliding_window"] = *w;
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
