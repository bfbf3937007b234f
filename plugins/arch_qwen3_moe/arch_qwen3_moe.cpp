// Qwen3-MoE: Qwen3 attention (q/k norms) with a mixture-of-experts MLP
// (mlp.gate router, mlp.experts.N.*; norm_topk_prob renormalises the top-k);
// layers listed in mlp_only_layers or off the decoder_sparse_step keep a dense MLP.
#include <algorithm>

#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/gguf_family.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class Qwen3MoeFactory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    const int64_t experts = cfg.has("num_experts") ? cfg.integer("num_experts") : cfg.integer("num_local_experts");
    spec.moe = {experts, cfg.integer("num_experts_per_tok"), cfg.boolean("norm_topk_prob", false)};
    const int64_t step = std::max<int64_t>(1, cfg.integer("decoder_sparse_step", 1));
    std::vector<int64_t> dense_only;
    if (cfg.has("mlp_only_layers")) dense_only = cfg.json()["mlp_only_layers"].get<std::vector<int64_t>>();
    for (int64_t i = 0; i < spec.layers; ++i)
      spec.layer[i].moe = experts > 0 && (i + 1) % step == 0 &&
                          std::find(dense_only.begin(), dense_only.end(), i) == dense_only.end();

    StandardLayerNames names;
    names.qk_norm = true;
    DecoderWeights w = bind_standard(ckpt, spec, names, cfg.boolean("tie_word_embeddings", false));
    WeightBinder b(ckpt);
    const int64_t H = spec.hidden, I = cfg.integer("moe_intermediate_size");
    for (int64_t i = 0; i < spec.layers; ++i) {
      if (!spec.layer[i].moe) continue;
      const std::string p = layer_prefix(i) + "mlp.";
      w.layers[i].router = b.matrix(p + "gate.weight", experts, H);
      for (int64_t e = 0; e < experts; ++e) {
        const std::string x = p + "experts." + std::to_string(e) + ".";
        w.layers[i].experts.push_back({b.matrix(x + "gate_proj.weight", I, H), b.matrix(x + "up_proj.weight", I, H),
                                       b.matrix(x + "down_proj.weight", H, I)});
      }
    }
    return make_decoder_model(spec, std::move(w), options);
  }
};

Qwen3MoeFactory factory;
const allm::Component components[] = {allm::architecture_component("qwen3_moe", 100, factory)};

// GGUF: llama.cpp's `qwen3moe`; experts stacked, router ffn_gate_inp.
const bool gguf_declared = [] {
  gguf::GgufFamily f;
  f.model_type = "qwen3_moe";
  f.architecture = "qwen3moe";
  f.layer_tensors = {{"ffn_gate_inp.weight", "mlp.gate.weight"},
                     {"ffn_gate_exps.weight", "mlp.experts.{}.gate_proj.weight"},
                     {"ffn_down_exps.weight", "mlp.experts.{}.down_proj.weight"},
                     {"ffn_up_exps.weight", "mlp.experts.{}.up_proj.weight"}};
  f.read_config = [](const gguf::File& file, nlohmann::json& c) {
    c["num_experts"] = gguf::metadata_int(file, "expert_count").value_or(0);
    c["num_experts_per_tok"] = gguf::metadata_int(file, "expert_used_count").value_or(2);
    c["decoder_sparse_step"] = 1;
    c["mlp_only_layers"] = nlohmann::json::array();
    c["norm_topk_prob"] = file.get_bool(*file.get_string("general.architecture") + ".expert_weights_norm").value_or(true);
    if (auto m = gguf::metadata_int(file, "expert_feed_forward_length")) c["moe_intermediate_size"] = *m;
  };
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its transformers class name or its folder name.
const bool names_declared = (register_model_type_names({"qwen3_moe", {"Qwen3MoeForCausalLM"}, {"qwen3_moe", "qwen3-moe", "qwen3moe"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-qwen3-moe", "1.0.0", "Qwen3-MoE architecture (model_type qwen3_moe)", components)
