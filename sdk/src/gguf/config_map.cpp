// GGUF metadata -> HF-style normalised config.json, following what llama.cpp
// does with the file (e.g. no sliding window for a `llama` file, gemma3's
// fixed local/global layer pattern, interleaved rotary for llama's permuted Q/K).
#include <cmath>

#include "allm/error.hpp"
#include "allm/gguf.hpp"

namespace allm::gguf {
namespace {

struct Keys {
  const File& f;
  std::string arch;
  std::string k(const std::string& suffix) const { return arch + "." + suffix; }

  int64_t need_int(const std::string& suffix) const {
    auto v = int_or_first(suffix);
    if (!v) throw ModelLoadError(f.origin() + ": metadata '" + k(suffix) + "' is missing");
    return sane(suffix, *v);
  }
  // Sizes and counts far beyond any real model mean a corrupt file.
  int64_t sane(const std::string& suffix, int64_t v) const {
    if (v < 0 || v > (int64_t(1) << 24))
      throw ModelLoadError(f.origin() + ": metadata '" + k(suffix) + "' = " + std::to_string(v) + " is out of range");
    return v;
  }
  std::optional<int64_t> opt_int(const std::string& suffix) const {
    auto v = int_or_first(suffix);
    if (v) sane(suffix, *v);
    return v;
  }
  // Some files store per-layer values (head counts) as arrays; allm needs them uniform.
  std::optional<int64_t> int_or_first(const std::string& suffix) const {
    auto* v = f.find(k(suffix));
    if (!v) return std::nullopt;
    if (v->type == ValueType::ARRAY) {
      if (v->value.empty() || !v->value[0].is_number_integer())
        throw ModelLoadError(f.origin() + ": metadata '" + k(suffix) + "' is not an integer array");
      for (auto& e : v->value)
        if (e != v->value[0])
          throw UnsupportedError(f.origin() + ": metadata '" + k(suffix) + "' varies per layer, which allm does not support");
      return v->value[0].get<int64_t>();
    }
    return f.get_int(k(suffix));
  }
  std::optional<double> num(const std::string& suffix) const { return f.get_float(k(suffix)); }
};

std::string model_type_for(const File& f, const std::string& arch, const Keys& k) {
  if (arch == "llama") return k.int_or_first("expert_count").value_or(0) > 0 ? "mixtral" : "llama";
  if (arch == "qwen2") return "qwen2";
  if (arch == "qwen3") return "qwen3";
  if (arch == "qwen3moe") return "qwen3_moe";
  if (arch == "gemma3") return "gemma3_text";
  if (arch == "gemma2") return "gemma2";
  if (arch == "granite") return "granite";
  if (arch == "smollm3") return "smollm3";
  if (arch == "olmo2") return "olmo2";
  if (arch == "gpt-oss") return "gpt_oss";
  throw UnsupportedError(f.origin() + ": GGUF architecture '" + arch +
                         "' is not supported (supported: llama, qwen2, qwen3, qwen3moe, gemma2, gemma3, granite, smollm3, "
                         "olmo2, gpt-oss)");
}

}  // namespace

nlohmann::json config_from_gguf(const File& f) {
  auto arch = f.get_string("general.architecture");
  if (!arch) throw ModelLoadError(f.origin() + ": metadata 'general.architecture' is missing");
  Keys k{f, *arch};
  std::string model_type = model_type_for(f, *arch, k);

  nlohmann::json c;
  c["model_type"] = model_type;
  c["architectures"] = nlohmann::json::array();
  int64_t hidden = k.need_int("embedding_length");
  int64_t heads = k.need_int("attention.head_count");
  if (hidden <= 0) throw ModelLoadError(f.origin() + ": metadata '" + k.k("embedding_length") + "' must be positive");
  if (heads <= 0) throw ModelLoadError(f.origin() + ": metadata '" + k.k("attention.head_count") + "' must be positive");
  int64_t kv_heads = k.opt_int("attention.head_count_kv").value_or(heads);
  int64_t head_dim = k.opt_int("attention.key_length").value_or(hidden / heads);
  c["hidden_size"] = hidden;
  int64_t layers = k.need_int("block_count");
  if (layers > 4096) throw ModelLoadError(f.origin() + ": metadata '" + k.k("block_count") + "' = " + std::to_string(layers) + " is out of range");
  c["num_hidden_layers"] = layers;
  c["num_attention_heads"] = heads;
  c["num_key_value_heads"] = kv_heads;
  c["head_dim"] = head_dim;
  if (auto ff = k.opt_int("feed_forward_length")) c["intermediate_size"] = *ff;
  c["max_position_embeddings"] = k.opt_int("context_length").value_or(4096);
  c["rms_norm_eps"] = k.num("attention.layer_norm_rms_epsilon").value_or(1e-6);
  c["rope_theta"] = k.num("rope.freq_base").value_or(10000.0);
  c["hidden_act"] = "silu";
  c["attention_bias"] = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c["tie_word_embeddings"] = f.find_tensor("output.weight") == nullptr;

  int64_t vocab = 0;
  if (auto v = k.opt_int("vocab_size")) vocab = *v;
  else if (auto* toks = f.get_array("tokenizer.ggml.tokens")) vocab = int64_t(toks->size());
  else if (auto* e = f.find_tensor("token_embd.weight"); e && e->ne.size() == 2) vocab = int64_t(e->ne[1]);
  c["vocab_size"] = vocab;

  if (auto rot = k.opt_int("rope.dimension_count"); rot && *rot != head_dim && head_dim > 0)
    c["partial_rotary_factor"] = double(*rot) / double(head_dim);

  // Rope scaling as llama.cpp stores it.
  if (auto type = f.get_string(k.k("rope.scaling.type")); type && *type != "none") {
    nlohmann::json rs = {{"rope_type", *type}, {"factor", k.num("rope.scaling.factor").value_or(1.0)}};
    if (auto orig = k.opt_int("rope.scaling.original_context_length")) rs["original_max_position_embeddings"] = *orig;
    if (auto a = k.num("rope.scaling.attn_factor")) rs["attention_factor"] = *a;
    if (auto b = k.num("rope.scaling.yarn_beta_fast")) rs["beta_fast"] = *b;
    if (auto b = k.num("rope.scaling.yarn_beta_slow")) rs["beta_slow"] = *b;
    // llama.cpp rounds YaRN's correction range outwards (transformers' truncate).
    if (*type == "yarn") rs["truncate"] = true;
    c["rope_scaling"] = rs;
  } else if (auto factor = k.num("rope.scale_linear")) {
    c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", *factor}};
  } else {
    c["rope_scaling"] = nullptr;
  }
  // llama3-style scaling is baked into per-frequency divisors (rope_freqs.weight).
  if (auto* rf = f.find_tensor("rope_freqs.weight")) {
    if (rf->dtype != DType::F32 || rf->ne.size() != 1)
      throw ModelLoadError(f.origin() + ": tensor 'rope_freqs.weight' must be a 1-D F32 tensor");
    auto* p = reinterpret_cast<const float*>(f.tensor_data(*rf));
    nlohmann::json factors = nlohmann::json::array();
    for (uint64_t i = 0; i < rf->ne[0]; ++i) factors.push_back(p[i]);
    c["rope_freq_factors"] = factors;
  }

  // llama.cpp's converter permutes Q/K rows of `llama` files so that rotary
  // pairs are adjacent (GPT-J style); the engine must rotate (2i, 2i+1) pairs.
  // Granite and SmolLM3 go through the same Llama conversion.
  c["rope_interleaved"] = *arch == "llama" || *arch == "granite" || *arch == "smollm3";

  if (auto e = k.opt_int("expert_count"); e && *e > 0) {
    int64_t used = k.opt_int("expert_used_count").value_or(2);
    if (model_type == "mixtral" || model_type == "gpt_oss") {
      c["num_local_experts"] = *e;
    } else {
      c["num_experts"] = *e;
      c["decoder_sparse_step"] = 1;
      c["mlp_only_layers"] = nlohmann::json::array();
      c["norm_topk_prob"] = f.get_bool(k.k("expert_weights_norm")).value_or(true);
      if (auto m = k.opt_int("expert_feed_forward_length")) c["moe_intermediate_size"] = *m;
    }
    c["num_experts_per_tok"] = used;
  }

  if (model_type == "gemma3_text" || model_type == "gemma2") {
    c["hidden_activation"] = "gelu_pytorch_tanh";
    c["hidden_act"] = "gelu_pytorch_tanh";
    c["query_pre_attn_scalar"] = head_dim;
    // llama.cpp: gemma3 layers are local except every 6th; gemma2 alternates starting local.
    int period = model_type == "gemma3_text" ? 6 : 2;
    nlohmann::json types = nlohmann::json::array();
    for (int64_t i = 0; i < layers; ++i)
      types.push_back(i % period < period - 1 ? "sliding_attention" : "full_attention");
    c["layer_types"] = types;
    if (auto w = k.opt_int("attention.sliding_window")) c["sliding_window"] = *w;
    if (model_type == "gemma3_text") {
      c["rope_local_base_freq"] = k.num("rope.freq_base_swa").value_or(10000.0);
      c["sliding_window_pattern"] = 6;
      c["final_logit_softcapping"] = nullptr;
      c["attn_logit_softcapping"] = nullptr;
    } else {
      c["attn_logit_softcapping"] = k.num("attn_logit_softcapping").value_or(50.0);
      c["final_logit_softcapping"] = k.num("final_logit_softcapping").value_or(30.0);
    }
  }

  if (model_type == "granite") {
    // llama.cpp's names for Granite's multipliers.
    if (auto v = k.num("embedding_scale")) c["embedding_multiplier"] = *v;
    if (auto v = k.num("residual_scale")) c["residual_multiplier"] = *v;
    if (auto v = k.num("attention.scale")) c["attention_multiplier"] = *v;
    if (auto v = k.num("logit_scale")) c["logits_scaling"] = *v;
  }
  // llama.cpp skips rope on every 4th SmolLM3 layer, whatever the original config said.
  if (model_type == "smollm3") c["no_rope_layer_interval"] = 4;
  if (model_type == "gpt_oss") {
    if (auto w = k.opt_int("attention.sliding_window")) c["sliding_window"] = *w;
    if (auto m = k.opt_int("expert_feed_forward_length")) c["intermediate_size"] = *m;
    // llama.cpp: even layers slide; its SwiGLU clamp is fixed at 7.
    nlohmann::json types = nlohmann::json::array();
    for (int64_t i = 0; i < layers; ++i) types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
    c["layer_types"] = types;
    c["swiglu_limit"] = 7.0;
  }

  if (auto b = f.get_int("tokenizer.ggml.bos_token_id")) c["bos_token_id"] = *b;
  if (auto e = f.get_int("tokenizer.ggml.eos_token_id")) c["eos_token_id"] = *e;
  if (auto p = f.get_int("tokenizer.ggml.padding_token_id")) c["pad_token_id"] = *p;
  c["torch_dtype"] = "float32";
  c["dtype"] = "float32";
  c["gguf_architecture"] = *arch;
  return c;
}

}  // namespace allm::gguf
