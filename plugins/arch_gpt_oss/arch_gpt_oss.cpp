// gpt-oss: attention with q/k/v/o biases and a learned sink logit per head
// (self_attn.sinks, one more entry in every softmax), sliding and full layers
// alternating (layer_types), YaRN rope; a mixture of experts routed by a
// biased linear (softmax over the top-k logits), whose experts are a clamped
// SwiGLU — gate clamped above at swiglu_limit, up to [-limit, limit],
// gate * sigmoid(1.702 gate) * (up + 1) — with biases on every projection.
//
// The hub stores the experts fused and input-major: mlp.experts.gate_up_proj
// [E, hidden, 2I] with gate and up interleaved (columns 2i, 2i+1),
// down_proj [E, I, hidden], and [E, n] bias matrices; they are re-laid out
// here into per-expert [out, in] matrices. A GGUF file (llama.cpp's
// converter already split them) gives per-expert gate/up/down matrices
// (mlp.experts.N.{gate,up,down}_proj.weight, possibly MXFP4) and [E, n] bias
// stacks (mlp.experts.{gate,up,down}_proj.bias).
#include "allm/arch_helpers.hpp"
#include "allm/plugin.hpp"

namespace {

using namespace allm;

class GptOssFactory final : public ArchitectureFactory {
 public:
  std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const override {
    ConfigView cfg(ckpt);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.activation = Activation::swiglu_clamped;
    spec.swiglu_limit = static_cast<float>(cfg.number("swiglu_limit", 7.0));
    if (!(spec.swiglu_limit > 0)) cfg.fail("swiglu_limit", "must be positive");
    // Without layer_types, even layers slide (gpt-oss's fixed pattern).
    apply_layer_types(cfg, spec, 0, [](int64_t i) { return i % 2 == 0; });
    spec.moe = {cfg.integer("num_local_experts"), cfg.integer("num_experts_per_tok"), true};
    for (auto& l : spec.layer) l.moe = true;

    StandardLayerNames names;
    names.qkv_bias = names.o_bias = cfg.boolean("attention_bias", true);
    names.dense_mlp = false;
    DecoderWeights w = bind_standard(ckpt, spec, names, cfg.boolean("tie_word_embeddings", false));
    WeightBinder b(ckpt);
    const int64_t H = spec.hidden, I = spec.intermediate, E = spec.moe.experts;
    for (int64_t i = 0; i < spec.layers; ++i) {
      LayerWeights& l = w.layers[i];
      const std::string p = layer_prefix(i);
      l.sinks = b.vector(p + "self_attn.sinks", spec.heads);
      l.router = b.matrix(p + "mlp.router.weight", E, H);
      l.router_bias = b.vector(p + "mlp.router.bias", E);
      const std::string x = p + "mlp.experts.";
      const bool fused = b.has(x + "gate_up_proj");
      for (int64_t e = 0; e < E; ++e) {
        ExpertWeights ex;
        if (fused) {
          ex.gate = b.input_major_slice(x + "gate_up_proj", {E, H, 2 * I}, e, 0, 2, w.owned);
          ex.up = b.input_major_slice(x + "gate_up_proj", {E, H, 2 * I}, e, 1, 2, w.owned);
          ex.down = b.input_major_slice(x + "down_proj", {E, I, H}, e, 0, 1, w.owned);
          const std::vector<float> gate_up = b.row(x + "gate_up_proj_bias", E, 2 * I, e);
          for (int64_t j = 0; j < I; ++j) {
            ex.gate_bias.push_back(gate_up[2 * j]);
            ex.up_bias.push_back(gate_up[2 * j + 1]);
          }
          ex.down_bias = b.row(x + "down_proj_bias", E, H, e);
        } else {
          const std::string one = x + std::to_string(e) + ".";
          ex.gate = b.matrix(one + "gate_proj.weight", I, H);
          ex.up = b.matrix(one + "up_proj.weight", I, H);
          ex.down = b.matrix(one + "down_proj.weight", H, I);
          ex.gate_bias = b.row(x + "gate_proj.bias", E, I, e);
          ex.up_bias = b.row(x + "up_proj.bias", E, I, e);
          ex.down_bias = b.row(x + "down_proj.bias", E, H, e);
        }
        l.experts.push_back(std::move(ex));
      }
    }
    return make_decoder_model(spec, std::move(w), options);
  }
};

GptOssFactory factory;
const allm::Component components[] = {allm::architecture_component("gpt_oss", 100, factory)};

}  // namespace

ALLM_DEFINE_PLUGIN("arch-gpt-oss", "1.0.0", "gpt-oss architecture (model_type gpt_oss)", components)
