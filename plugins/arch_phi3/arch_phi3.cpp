// Phi-3: Llama-style blocks whose q/k/v and gate/up projections are stored
// fused (qkv_proj, gate_up_proj; split here by row views), partial rotary.
#include "allm/arch_helpers.hpp"
#include "allm/model_type_names.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class Phi3Factory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = activation_from_config(cfg);
    if (cfg.has("sliding_window")) apply_layer_types(cfg, spec, 0, [](int64_t) { return true; });

    WeightBinder b(ckpt);
    DecoderWeights w;
    w.store = ckpt.weights;
    w.embed = b.matrix("model.embed_tokens.weight", spec.vocab, spec.hidden);
    w.lm_head = cfg.boolean("tie_word_embeddings", false) ? w.embed
                                                          : b.matrix("lm_head.weight", spec.vocab, spec.hidden);
    w.final_norm = b.vector("model.norm.weight", spec.hidden);
    const int64_t H = spec.hidden, I = spec.intermediate;
    const int64_t q_out = spec.heads * spec.head_dim, kv_out = spec.kv_heads * spec.head_dim;
    const int64_t qkv = q_out + 2 * kv_out;
    for (int64_t i = 0; i < spec.layers; ++i) {
      const std::string p = layer_prefix(i);
      LayerWeights l;
      l.attn_norm = b.vector(p + "input_layernorm.weight", H);
      l.ffn_norm = b.vector(p + "post_attention_layernorm.weight", H);
      const std::string fused = p + "self_attn.qkv_proj.weight";
      l.q = b.matrix_rows(fused, qkv, H, 0, q_out);
      l.k = b.matrix_rows(fused, qkv, H, q_out, kv_out);
      l.v = b.matrix_rows(fused, qkv, H, q_out + kv_out, kv_out);
      l.o = b.matrix(p + "self_attn.o_proj.weight", H, q_out);
      l.gate = b.matrix_rows(p + "mlp.gate_up_proj.weight", 2 * I, H, 0, I);
      l.up = b.matrix_rows(p + "mlp.gate_up_proj.weight", 2 * I, H, I, I);
      l.down = b.matrix(p + "mlp.down_proj.weight", H, I);
      w.layers.push_back(std::move(l));
    }
    return make_decoder_model(spec, std::move(w), options);
  }
};

Phi3Factory factory;
const allm::Component components[] = {allm::architecture_component("phi3", 100, factory)};

// Recognised without a model_type by its folder name.
const bool names_declared = (register_model_type_names({"phi3", {}, {"phi-3", "phi3"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-phi3", "1.0.0", "Phi-3 architecture (model_type phi3)", components)
