// Mixtral: Mistral attention with a sparse mixture-of-experts MLP
// (block_sparse_moe: softmax router, top-k, weights renormalised over the top-k).
#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/gguf_family.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class MixtralFactory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    if (cfg.has("sliding_window")) apply_layer_types(cfg, spec, 0, [](int64_t) { return true; });
    spec.moe = {cfg.integer("num_local_experts"), cfg.integer("num_experts_per_tok"), true};
    for (auto& l : spec.layer) l.moe = true;

    StandardLayerNames names;
    names.dense_mlp = false;
    DecoderWeights w = bind_standard(ckpt, spec, names, cfg.boolean("tie_word_embeddings", false));
    WeightBinder b(ckpt);
    const int64_t H = spec.hidden, I = spec.intermediate;
    for (int64_t i = 0; i < spec.layers; ++i) {
      const std::string p = layer_prefix(i) + "block_sparse_moe.";
      w.layers[i].router = b.matrix(p + "gate.weight", spec.moe.experts, H);
      for (int64_t e = 0; e < spec.moe.experts; ++e) {
        const std::string x = p + "experts." + std::to_string(e) + ".";
        w.layers[i].experts.push_back(
            {b.matrix(x + "w1.weight", I, H), b.matrix(x + "w3.weight", I, H), b.matrix(x + "w2.weight", H, I)});
      }
    }
    return make_decoder_model(spec, std::move(w), options);
  }
};

MixtralFactory factory;
const allm::Component components[] = {allm::architecture_component("mixtral", 100, factory)};

// GGUF: llama.cpp's `llama` with experts; Q/K permuted; experts stacked.
const bool gguf_declared = [] {
  gguf::GgufFamily f;
  f.model_type = "mixtral";
  f.architecture = "llama";
  f.permuted_qk = true;
  f.claims = [](const gguf::File& file) { return gguf::metadata_int(file, "expert_count").value_or(0) > 0; };
  f.layer_tensors = {{"ffn_gate_inp.weight", "block_sparse_moe.gate.weight"},
                     {"ffn_gate_exps.weight", "block_sparse_moe.experts.{}.w1.weight"},
                     {"ffn_down_exps.weight", "block_sparse_moe.experts.{}.w2.weight"},
                     {"ffn_up_exps.weight", "block_sparse_moe.experts.{}.w3.weight"}};
  f.read_config = [](const gguf::File& file, nlohmann::json& c) {
    c["num_local_experts"] = gguf::metadata_int(file, "expert_count").value_or(0);
    c["num_experts_per_tok"] = gguf::metadata_int(file, "expert_used_count").value_or(2);
  };
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its folder name.
const bool names_declared = (register_model_type_names({"mixtral", {}, {"mixtral"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-mixtral", "1.0.0", "Mixtral architecture (model_type mixtral)", components)
