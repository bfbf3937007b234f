// Config access, tensor binding and the Llama-family defaults shared by the
// architecture plugins.
#include "allm/arch_helpers.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "allm/error.hpp"
#include "allm/weight_format.hpp"

namespace allm {

// ---- ConfigView -------------------------------------------------------------

bool ConfigView::has(const std::string& key) const { return json_.contains(key) && !json_[key].is_null(); }

// A model's config.json is part of the model: its problems are model load
// errors (exit code 5), like a malformed config.json; ConfigError (3) is for
// allm's own configuration.
void ConfigView::fail(const std::string& key, const std::string& why) const {
  throw ModelLoadError(origin_ + ": config key '" + key + "' " + why);
}

int64_t ConfigView::integer(const std::string& key) const {
  if (!has(key)) fail(key, "is missing");
  const auto& v = json_[key];
  if (!v.is_number_integer() && !(v.is_number() && std::floor(v.get<double>()) == v.get<double>()))
    fail(key, "must be an integer, got " + v.dump());
  return v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(v.get<double>());
}

int64_t ConfigView::integer(const std::string& key, int64_t fallback) const {
  return has(key) ? integer(key) : fallback;
}

double ConfigView::number(const std::string& key) const {
  if (!has(key)) fail(key, "is missing");
  if (!json_[key].is_number()) fail(key, "must be a number, got " + json_[key].dump());
  return json_[key].get<double>();
}

double ConfigView::number(const std::string& key, double fallback) const { return has(key) ? number(key) : fallback; }

bool ConfigView::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!json_[key].is_boolean()) fail(key, "must be true or false, got " + json_[key].dump());
  return json_[key].get<bool>();
}

std::string ConfigView::string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  if (!json_[key].is_string()) fail(key, "must be a string, got " + json_[key].dump());
  return json_[key].get<std::string>();
}

// ---- WeightBinder -----------------------------------------------------------

static std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

bool WeightBinder::has(const std::string& name) const { return ckpt_.weights->find(name) != nullptr; }

const Tensor& WeightBinder::get(const std::string& name) const { return ckpt_.weights->get(name); }

const Tensor& WeightBinder::checked(const std::string& name, int64_t rows, int64_t cols) const {
  const Tensor& t = get(name);
  if (t.shape != std::vector<int64_t>{rows, cols})
    throw ModelLoadError(ckpt_.source.string() + ": tensor '" + name + "' has shape " + shape_text(t.shape) +
                         ", expected " + shape_text({rows, cols}));
  weight_format_of(t);  // a dtype without kernels fails now, not mid-forward
  return t;
}

Tensor WeightBinder::matrix(const std::string& name, int64_t rows, int64_t cols) const {
  return ckpt_.weights->prepared(checked(name, rows, cols));
}

Tensor WeightBinder::matrix_rows(const std::string& name, int64_t total_rows, int64_t cols, int64_t r0,
                                 int64_t n) const {
  return ckpt_.weights->prepared(slice_rows(checked(name, total_rows, cols), r0, n));
}

std::vector<float> WeightBinder::vector(const std::string& name, int64_t n) const {
  const Tensor& t = get(name);
  if (t.numel() != n || t.shape.size() != 1)
    throw ModelLoadError(ckpt_.source.string() + ": tensor '" + name + "' has shape " + shape_text(t.shape) +
                         ", expected " + shape_text({n}));
  return to_f32(t);
}

std::vector<float> WeightBinder::row(const std::string& name, int64_t rows, int64_t cols, int64_t r) const {
  const Tensor& t = get(name);
  if (t.shape != std::vector<int64_t>{rows, cols})
    throw ModelLoadError(ckpt_.source.string() + ": tensor '" + name + "' has shape " + shape_text(t.shape) +
                         ", expected " + shape_text({rows, cols}));
  return to_f32(slice_rows(t, r, 1));
}

Tensor WeightBinder::input_major_slice(const std::string& name, const std::vector<int64_t>& shape, int64_t index,
                                       int64_t first, int64_t step, std::vector<std::shared_ptr<const void>>& owned) const {
  const Tensor& t = get(name);
  if (shape.size() != 3 || t.shape != shape)
    throw ModelLoadError(ckpt_.source.string() + ": tensor '" + name + "' has shape " + shape_text(t.shape) +
                         ", expected " + shape_text(shape));
  const size_t elem = dtype_size(t.dtype);
  if (elem == 0 || (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16))
    throw ModelLoadError(ckpt_.source.string() + ": tensor '" + name + "' is " + dtype_name(t.dtype) +
                         "; an input-major tensor must be F32, F16 or BF16");
  const int64_t in = shape[1], out = shape[2];
  const int64_t count = first < out ? (out - first + step - 1) / step : 0;
  auto bytes = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(count * in) * elem);
  const auto* src = static_cast<const uint8_t*>(t.data) + static_cast<size_t>(index * in * out) * elem;
  for (int64_t r = 0; r < count; ++r)
    for (int64_t c = 0; c < in; ++c)
      std::memcpy(bytes->data() + static_cast<size_t>(r * in + c) * elem,
                  src + static_cast<size_t>(c * out + first + r * step) * elem, elem);
  Tensor m;
  m.name = name + "[" + std::to_string(index) + "]";
  m.dtype = t.dtype;
  m.shape = {count, in};
  m.data = bytes->data();
  m.nbytes = bytes->size();
  owned.push_back(bytes);
  return m;
}

// ---- Llama-family defaults --------------------------------------------------

namespace {

// YaRN ("NTK-by-parts" interpolation plus an attention temperature), as
// transformers computes it: frequencies that turn fewer than beta_slow times
// over the original context are interpolated (divided by factor), those that
// turn more than beta_fast times are kept, with a linear ramp between; cos and
// sin are multiplied by the attention factor (0.1 ln(factor) + 1 by default).
void apply_yarn(const ConfigView& cfg, const nlohmann::json& sc, float base, RopeConfig& rope) {
  auto opt = [&](const char* key) -> std::optional<double> {
    if (!sc.contains(key) || sc[key].is_null()) return std::nullopt;
    if (!sc[key].is_number()) cfg.fail(std::string("rope_scaling.") + key, "must be a number, got " + sc[key].dump());
    return sc[key].get<double>();
  };
  const double context = cfg.number("max_position_embeddings", 4096);
  const double original = opt("original_max_position_embeddings").value_or(context);
  if (original <= 0) cfg.fail("rope_scaling.original_max_position_embeddings", "must be positive");
  const double factor = opt("factor").value_or(context / original);
  if (factor <= 0) cfg.fail("rope_scaling.factor", "must be positive");
  auto mscale_of = [](double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
  double attention = 0;
  if (auto a = opt("attention_factor")) {
    attention = *a;
  } else {
    const double m = opt("mscale").value_or(0), m_all = opt("mscale_all_dim").value_or(0);
    attention = m != 0 && m_all != 0 ? mscale_of(factor, m) / mscale_of(factor, m_all) : mscale_of(factor, 1);
  }
  // `or` defaults, as transformers reads them: 0 counts as unset.
  double beta_fast = opt("beta_fast").value_or(0), beta_slow = opt("beta_slow").value_or(0);
  if (beta_fast == 0) beta_fast = 32;
  if (beta_slow == 0) beta_slow = 1;
  bool truncate = true;
  if (sc.contains("truncate") && !sc["truncate"].is_null()) {
    if (!sc["truncate"].is_boolean()) cfg.fail("rope_scaling.truncate", "must be true or false");
    truncate = sc["truncate"].get<bool>();
  }
  const double dim = static_cast<double>(rope.rotary_dim);
  auto correction_dim = [&](double rotations) {
    return dim * std::log(original / (rotations * 2 * M_PI)) / (2 * std::log(static_cast<double>(base)));
  };
  double low = correction_dim(beta_fast), high = correction_dim(beta_slow);
  if (truncate) low = std::floor(low), high = std::ceil(high);
  low = std::max(low, 0.0);
  high = std::min(high, dim - 1);
  if (low == high) high += 0.001;  // no division by zero
  const int64_t half = rope.rotary_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    // F32 throughout, as the reference's tensors are.
    const float pos_freq = std::pow(base, static_cast<float>(2 * i) / static_cast<float>(rope.rotary_dim));
    const float ramp = std::clamp((static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low),
                                  0.0f, 1.0f);
    const float keep = 1.0f - ramp;  // share of the original (extrapolated) frequency
    const float extrapolated = 1.0f / pos_freq, interpolated = 1.0f / (static_cast<float>(factor) * pos_freq);
    rope.inv_freq[i] = interpolated * (1.0f - keep) + extrapolated * keep;
  }
  rope.attention_scale = static_cast<float>(attention);
}

}  // namespace

// rope_scaling.mrope_section: how many frequencies each position component
// (time, height, width) turns; they must cover every rotary frequency.
static void read_mrope_sections(const ConfigView& cfg, const nlohmann::json& js, RopeConfig& rope) {
  if (!js.is_array() || js.empty()) cfg.fail("rope_scaling.mrope_section", "must be a non-empty list of integers");
  int64_t sum = 0;
  for (const auto& v : js) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      cfg.fail("rope_scaling.mrope_section", "holds " + v.dump() + ", not a non-negative integer");
    rope.sections.push_back(v.get<int64_t>());
    sum += rope.sections.back();
  }
  if (sum != static_cast<int64_t>(rope.inv_freq.size()))
    cfg.fail("rope_scaling.mrope_section", "sums to " + std::to_string(sum) + ", but the rope has " +
                                               std::to_string(rope.inv_freq.size()) + " frequencies (rotary dims / 2)");
}

RopeConfig rope_from_config(const ConfigView& cfg, int64_t head_dim, std::optional<double> base_override,
                            bool with_scaling) {
  RopeConfig rope;
  const double base = base_override ? *base_override : cfg.number("rope_theta", 10000.0);
  const double partial = cfg.number("partial_rotary_factor", 1.0);
  rope.rotary_dim = static_cast<int64_t>(static_cast<double>(head_dim) * partial);
  rope.rotary_dim -= rope.rotary_dim % 2;
  if (rope.rotary_dim <= 0 || rope.rotary_dim > head_dim) cfg.fail("partial_rotary_factor", "gives no rotary dims");
  rope.interleaved = cfg.boolean("rope_interleaved", false);
  const int64_t half = rope.rotary_dim / 2;
  rope.inv_freq.resize(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(rope.rotary_dim);
    rope.inv_freq[i] = 1.0f / std::pow(static_cast<float>(base), exponent);
  }

  const auto& js = cfg.json();
  // GGUF (llama.cpp) stores llama3-style scaling as one divisor per frequency.
  if (with_scaling && js.contains("rope_freq_factors")) {
    const auto& ff = js["rope_freq_factors"];
    if (!ff.is_array() || ff.size() != rope.inv_freq.size()) cfg.fail("rope_freq_factors", "needs one number per rotary frequency");
    for (size_t i = 0; i < ff.size(); ++i) rope.inv_freq[i] /= ff[i].get<float>();
  }
  if (!with_scaling || !js.contains("rope_scaling") || js["rope_scaling"].is_null()) return rope;
  const auto& sc = js["rope_scaling"];
  if (!sc.is_object()) cfg.fail("rope_scaling", "must be an object or null");
  std::string type = sc.value("rope_type", sc.value("type", std::string("default")));
  if (sc.contains("mrope_section")) {
    read_mrope_sections(cfg, sc["mrope_section"], rope);
    if (type == "mrope") type = "default";  // the hub's spelling of plain M-RoPE
  }
  auto num = [&](const char* key) -> double {
    if (!sc.contains(key) || !sc[key].is_number()) cfg.fail(std::string("rope_scaling.") + key, "is missing");
    return sc[key].get<double>();
  };
  if (type == "default" || type == "dynamic") {
    // Dynamic NTK only changes frequencies past the original context, which the
    // model's context window (max_position_embeddings) never reaches.
    return rope;
  }
  if (type == "linear") {
    const float factor = static_cast<float>(num("factor"));
    for (auto& f : rope.inv_freq) f /= factor;
    return rope;
  }
  if (type == "llama3") {
    const double factor = num("factor"), low = num("low_freq_factor"), high = num("high_freq_factor");
    const double old_ctx = num("original_max_position_embeddings");
    const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
    for (auto& f : rope.inv_freq) {
      const double wavelen = 2 * M_PI / f;
      if (wavelen < high_wavelen) continue;  // high frequency: unchanged
      if (wavelen > low_wavelen) {
        f = static_cast<float>(f / factor);
      } else {
        const double smooth = (old_ctx / wavelen - low) / (high - low);
        f = static_cast<float>((1 - smooth) * f / factor + smooth * f);
      }
    }
    return rope;
  }
  if (type == "yarn") {
    apply_yarn(cfg, sc, static_cast<float>(base), rope);
    return rope;
  }
  cfg.fail("rope_scaling.rope_type", "'" + type + "' is not supported (default, linear, dynamic, llama3, yarn are)");
}

DecoderSpec gemma_like_spec(const ConfigView& cfg) {
  DecoderSpec spec = llama_like_spec(cfg);
  spec.activation = activation_from_config(cfg);
  spec.norm_plus_one = true;
  spec.embed_scale = std::sqrt(static_cast<float>(spec.hidden));
  spec.attn_scale = 1.0f / std::sqrt(static_cast<float>(cfg.number("query_pre_attn_scalar", spec.head_dim)));
  spec.attn_softcap = static_cast<float>(cfg.number("attn_logit_softcapping", 0));
  spec.final_softcap = static_cast<float>(cfg.number("final_logit_softcapping", 0));
  return spec;
}

StandardLayerNames gemma_sandwich_names() {
  StandardLayerNames names;
  names.ffn_norm = "pre_feedforward_layernorm";
  names.post_attn_norm = "post_attention_layernorm";
  names.post_ffn_norm = "post_feedforward_layernorm";
  return names;
}

DecoderSpec llama_like_spec(const ConfigView& cfg) {
  DecoderSpec s;
  s.model_type = cfg.string("model_type", "");
  s.hidden = cfg.integer("hidden_size");
  s.layers = cfg.integer("num_hidden_layers");
  s.heads = cfg.integer("num_attention_heads");
  s.kv_heads = cfg.integer("num_key_value_heads", s.heads);
  s.head_dim = cfg.integer("head_dim", s.hidden / std::max<int64_t>(1, s.heads));
  s.intermediate = cfg.integer("intermediate_size");
  s.vocab = cfg.integer("vocab_size");
  s.context_length = cfg.integer("max_position_embeddings", 4096);
  s.norm_eps = static_cast<float>(cfg.number("rms_norm_eps", 1e-6));
  if (s.hidden <= 0) cfg.fail("hidden_size", "must be positive");
  if (s.layers <= 0) cfg.fail("num_hidden_layers", "must be positive");
  if (s.heads <= 0) cfg.fail("num_attention_heads", "must be positive");
  if (s.kv_heads <= 0 || s.heads % s.kv_heads != 0)
    cfg.fail("num_key_value_heads", "must divide num_attention_heads");
  if (s.head_dim <= 0) cfg.fail("head_dim", "must be positive");
  if (s.vocab <= 0) cfg.fail("vocab_size", "must be positive");
  if (!(s.norm_eps >= 0.0f)) cfg.fail("rms_norm_eps", "must not be negative");
  // Checked for every architecture, also those that ignore layer_types.
  if (cfg.json().contains("layer_types") && cfg.json()["layer_types"].is_array() &&
      static_cast<int64_t>(cfg.json()["layer_types"].size()) != s.layers)
    cfg.fail("layer_types", "has " + std::to_string(cfg.json()["layer_types"].size()) + " entries for " +
                                std::to_string(s.layers) + " layers");
  s.ropes = {rope_from_config(cfg, s.head_dim)};
  s.layer.assign(static_cast<size_t>(s.layers), LayerSpec{});
  return s;
}

std::string layer_prefix(int64_t i) { return "model.layers." + std::to_string(i) + "."; }

void bind_standard_attention(const WeightBinder& b, const DecoderSpec& s, int64_t i, const StandardLayerNames& n,
                             LayerWeights& lw) {
  const std::string p = layer_prefix(i) + "self_attn.";
  const int64_t q_out = s.heads * s.head_dim, kv_out = s.kv_heads * s.head_dim;
  lw.q = b.matrix(p + "q_proj.weight", q_out, s.hidden);
  lw.k = b.matrix(p + "k_proj.weight", kv_out, s.hidden);
  lw.v = b.matrix(p + "v_proj.weight", kv_out, s.hidden);
  lw.o = b.matrix(p + "o_proj.weight", s.hidden, q_out);
  if (n.qkv_bias) {
    lw.q_bias = b.vector(p + "q_proj.bias", q_out);
    lw.k_bias = b.vector(p + "k_proj.bias", kv_out);
    lw.v_bias = b.vector(p + "v_proj.bias", kv_out);
  }
  if (n.o_bias) lw.o_bias = b.vector(p + "o_proj.bias", s.hidden);
  if (n.qk_norm) {
    lw.q_norm = b.vector(p + "q_norm.weight", s.qk_norm_whole_width ? q_out : s.head_dim);
    lw.k_norm = b.vector(p + "k_norm.weight", s.qk_norm_whole_width ? kv_out : s.head_dim);
  }
}

DecoderWeights bind_standard(const Checkpoint& ckpt, const DecoderSpec& s, const StandardLayerNames& n, bool tied) {
  WeightBinder b(ckpt);
  DecoderWeights w;
  w.store = ckpt.weights;
  w.embed = b.matrix("model.embed_tokens.weight", s.vocab, s.hidden);
  w.lm_head = tied ? w.embed : b.matrix("lm_head.weight", s.vocab, s.hidden);
  w.final_norm = b.vector("model.norm.weight", s.hidden);
  w.layers.resize(static_cast<size_t>(s.layers));
  for (int64_t i = 0; i < s.layers; ++i) {
    auto& lw = w.layers[i];
    const std::string p = layer_prefix(i);
    bind_standard_attention(b, s, i, n, lw);
    if (!n.attn_norm.empty()) lw.attn_norm = b.vector(p + n.attn_norm + ".weight", s.hidden);
    if (!n.ffn_norm.empty()) lw.ffn_norm = b.vector(p + n.ffn_norm + ".weight", s.hidden);
    if (!n.post_attn_norm.empty()) lw.post_attn_norm = b.vector(p + n.post_attn_norm + ".weight", s.hidden);
    if (!n.post_ffn_norm.empty()) lw.post_ffn_norm = b.vector(p + n.post_ffn_norm + ".weight", s.hidden);
    if (n.dense_mlp && !s.layer[i].moe) {
      lw.gate = b.matrix(p + "mlp.gate_proj.weight", s.intermediate, s.hidden);
      lw.up = b.matrix(p + "mlp.up_proj.weight", s.intermediate, s.hidden);
      lw.down = b.matrix(p + "mlp.down_proj.weight", s.hidden, s.intermediate);
      if (n.mlp_bias) {
        lw.gate_bias = b.vector(p + "mlp.gate_proj.bias", s.intermediate);
        lw.up_bias = b.vector(p + "mlp.up_proj.bias", s.intermediate);
        lw.down_bias = b.vector(p + "mlp.down_proj.bias", s.hidden);
      }
    }
  }
  return w;
}

void apply_layer_types(const ConfigView& cfg, DecoderSpec& spec, int sliding_rope,
                       const std::function<bool(int64_t)>& default_sliding) {
  const auto& js = cfg.json();
  std::vector<bool> sliding(static_cast<size_t>(spec.layers), false);
  if (js.contains("layer_types") && js["layer_types"].is_array()) {
    const auto& types = js["layer_types"];
    if (static_cast<int64_t>(types.size()) != spec.layers)
      cfg.fail("layer_types", "has " + std::to_string(types.size()) + " entries for " + std::to_string(spec.layers) +
                                  " layers");
    for (int64_t i = 0; i < spec.layers; ++i) {
      const std::string t = types[i].is_string() ? types[i].get<std::string>() : "";
      if (t != "sliding_attention" && t != "full_attention")
        cfg.fail("layer_types[" + std::to_string(i) + "]", "must be sliding_attention or full_attention");
      sliding[i] = t == "sliding_attention";
    }
  } else if (default_sliding) {
    for (int64_t i = 0; i < spec.layers; ++i) sliding[i] = default_sliding(i);
  }
  const int64_t window = cfg.integer("sliding_window", 0);
  for (int64_t i = 0; i < spec.layers; ++i) {
    if (!sliding[i]) continue;
    if (window <= 0) cfg.fail("sliding_window", "must be positive for sliding_attention layers");
    spec.layer[i].window = window;
    spec.layer[i].rope = sliding_rope;
  }
}

Activation activation_from_config(const ConfigView& cfg) {
  const std::string key = cfg.has("hidden_activation") ? "hidden_activation" : "hidden_act";
  const std::string act = cfg.string(key, "silu");
  if (act == "silu" || act == "swish") return Activation::silu;
  if (act == "gelu_pytorch_tanh" || act == "gelu_tanh" || act == "gelu_new" || act == "gelu_fast")
    return Activation::gelu_tanh;
  cfg.fail(key, "'" + act + "' is not supported (silu, gelu_pytorch_tanh are)");
}

}  // namespace allm
