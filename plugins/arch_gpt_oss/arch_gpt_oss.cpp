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
#include "allm/model_type_names.hpp"
#include "allm/error.hpp"
#include "allm/gguf_family.hpp"
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

// ---- GGUF: llama.cpp's `gpt-oss` --------------------------------------------

// The hub's fused, input-major experts split and transposed into what
// llama.cpp's converter writes: per-expert [out, in] gate/up/down matrices
// and [E, n] bias stacks.
void split_fused_experts(const Checkpoint& ck, gguf::DerivedTensors& d) {
  const std::string origin = ck.source.string();
  for (const auto& hf : ck.weights->names()) {
    if (!hf.ends_with(".mlp.experts.gate_up_proj")) continue;
    const std::string p = hf.substr(0, hf.size() - std::string("gate_up_proj").size());
    const Tensor& gu = ck.weights->get(hf);
    const Tensor& dn = ck.weights->get(p + "down_proj");
    const Tensor& gub = ck.weights->get(p + "gate_up_proj_bias");
    const Tensor& dnb = ck.weights->get(p + "down_proj_bias");
    if (gu.shape.size() != 3 || gu.shape[2] % 2 != 0)
      throw ModelLoadError(origin + ": tensor '" + hf + "' should be [experts, hidden, 2 * intermediate]");
    const int64_t E = gu.shape[0], H = gu.shape[1], I = gu.shape[2] / 2;
    if (dn.shape != std::vector<int64_t>{E, I, H} || gub.shape != std::vector<int64_t>{E, 2 * I} ||
        dnb.shape != std::vector<int64_t>{E, H})
      throw ModelLoadError(origin + ": the fused experts under '" + p + "' do not agree in shape");
    const std::vector<float> g = to_f32(gu), down = to_f32(dn), gb = to_f32(gub);
    for (int64_t e = 0; e < E; ++e) {
      std::vector<float> gate(size_t(I * H)), up(size_t(I * H)), dt(size_t(H * I));
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < I; ++i) {
          gate[size_t(i * H + h)] = g[size_t((e * H + h) * 2 * I + 2 * i)];
          up[size_t(i * H + h)] = g[size_t((e * H + h) * 2 * I + 2 * i + 1)];
          dt[size_t(h * I + i)] = down[size_t((e * I + i) * H + h)];
        }
      const std::string x = p + std::to_string(e) + ".";
      d.add(x + "gate_proj.weight", std::move(gate), {I, H});
      d.add(x + "up_proj.weight", std::move(up), {I, H});
      d.add(x + "down_proj.weight", std::move(dt), {H, I});
    }
    std::vector<float> gate_bias(size_t(E * I)), up_bias(size_t(E * I));
    for (int64_t e = 0; e < E; ++e)
      for (int64_t i = 0; i < I; ++i) {
        gate_bias[size_t(e * I + i)] = gb[size_t(e * 2 * I + 2 * i)];
        up_bias[size_t(e * I + i)] = gb[size_t(e * 2 * I + 2 * i + 1)];
      }
    d.add(p + "gate_proj.bias", std::move(gate_bias), {E, I});
    d.add(p + "up_proj.bias", std::move(up_bias), {E, I});
    d.named.emplace_back(p + "down_proj.bias", &dnb);
    for (const char* n : {"gate_up_proj", "down_proj", "gate_up_proj_bias", "down_proj_bias"}) d.replaced.insert(p + n);
  }
}

// llama.cpp's names: the pre-MLP norm is post_attention_norm, sinks
// attn_sinks, the router ffn_gate_inp (weight and bias), experts
// ffn_{gate,up,down}_exps (stacked weights, [E, n] bias stacks). llama.cpp
// fixes what the config would choose: even layers slide, the clamp is 7 —
// a file reads back so, and another config is refused on writing.
const bool gguf_declared = [] {
  gguf::GgufFamily f;
  f.model_type = "gpt_oss";
  f.architecture = "gpt-oss";
  f.layer_tensors = {{"post_attention_norm.weight", "post_attention_layernorm.weight"},
                     {"ffn_norm.weight", ""},
                     {"attn_sinks.weight", "self_attn.sinks"},
                     {"ffn_gate_inp.weight", "mlp.router.weight"},
                     {"ffn_gate_inp.bias", "mlp.router.bias"},
                     {"ffn_gate_exps.weight", "mlp.experts.{}.gate_proj.weight"},
                     {"ffn_up_exps.weight", "mlp.experts.{}.up_proj.weight"},
                     {"ffn_down_exps.weight", "mlp.experts.{}.down_proj.weight"},
                     {"ffn_gate_exps.bias", "mlp.experts.gate_proj.bias"},
                     {"ffn_up_exps.bias", "mlp.experts.up_proj.bias"},
                     {"ffn_down_exps.bias", "mlp.experts.down_proj.bias"}};
  f.read_config = [](const gguf::File& file, nlohmann::json& c) {
    c["num_local_experts"] = gguf::metadata_int(file, "expert_count").value_or(0);
    c["num_experts_per_tok"] = gguf::metadata_int(file, "expert_used_count").value_or(2);
    if (auto w = gguf::metadata_int(file, "attention.sliding_window")) c["sliding_window"] = *w;
    if (auto m = gguf::metadata_int(file, "expert_feed_forward_length")) c["intermediate_size"] = *m;
    nlohmann::json types = nlohmann::json::array();
    for (int64_t i = 0; i < c["num_hidden_layers"].get<int64_t>(); ++i)
      types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
    c["layer_types"] = types;
    c["swiglu_limit"] = 7.0;
  };
  f.write_metadata = [](const Checkpoint& ck, gguf::Writer& w) {
    const auto& c = ck.config;
    const std::string origin = ck.source.string();
    if (c.contains("swiglu_limit") && c["swiglu_limit"].is_number() && c["swiglu_limit"].get<double>() != 7.0)
      throw UnsupportedError(origin + ": swiglu_limit " + c["swiglu_limit"].dump() + " differs from llama.cpp's fixed 7");
    if (c.contains("layer_types") && c["layer_types"].is_array())
      for (size_t i = 0; i < c["layer_types"].size(); ++i)
        if ((c["layer_types"][i] == "sliding_attention") != (i % 2 == 0))
          throw UnsupportedError(origin + ": layer_types[" + std::to_string(i) +
                                 "] differs from llama.cpp's fixed gpt-oss pattern (even layers slide)");
    if (c.contains("sliding_window") && c["sliding_window"].is_number_integer())
      w.set("gpt-oss.attention.sliding_window", gguf::Value::u32(uint32_t(c["sliding_window"].get<int64_t>())));
    if (c.contains("intermediate_size") && c["intermediate_size"].is_number_integer())
      w.set("gpt-oss.expert_feed_forward_length", gguf::Value::u32(uint32_t(c["intermediate_size"].get<int64_t>())));
  };
  f.derive_tensors = split_fused_experts;
  gguf::register_gguf_family(std::move(f));
  return true;
}();

// Recognised without a model_type by its transformers class name or its folder name.
const bool names_declared = (register_model_type_names({"gpt_oss", {"GptOssForCausalLM"}, {"gpt-oss", "gpt_oss"}}), true);

}  // namespace

ALLM_DEFINE_PLUGIN("arch-gpt-oss", "1.0.0", "gpt-oss architecture (model_type gpt_oss)", components)
