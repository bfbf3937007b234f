// GGUF metadata -> HF-style normalised config.json, following what llama.cpp
// does with the file (e.g. no sliding window for a `llama` file, interleaved
// rotary for permuted Q/K). The keys every family has are read here; the
// family's own table (gguf_family.hpp, declared by its architecture plugin)
// names its model_type and adds what only it has (gemma3's fixed local/global
// pattern, Granite's multipliers, ...).
#include <cmath>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/gguf_family.hpp"

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
      const Array& a = *f.get_array(k(suffix));
      if (a.empty() || !a.is_integer())
        throw ModelLoadError(f.origin() + ": metadata '" + k(suffix) + "' is not an integer array");
      try {
        for (size_t i = 1; i < a.size(); ++i)
          if (a.integer(i) != a.integer(0))
            throw UnsupportedError(f.origin() + ": metadata '" + k(suffix) + "' varies per layer, which allm does not support");
        return a.integer(0);
      } catch (const InvalidArgumentError&) {  // a u64 beyond int64
        throw ModelLoadError(f.origin() + ": metadata '" + k(suffix) + "' is out of range");
      }
    }
    return f.get_int(k(suffix));
  }
  std::optional<double> num(const std::string& suffix) const { return f.get_float(k(suffix)); }
};

}  // namespace

std::optional<int64_t> metadata_int(const File& f, const std::string& suffix) {
  auto arch = f.get_string("general.architecture");
  if (!arch) throw ModelLoadError(f.origin() + ": metadata 'general.architecture' is missing");
  return Keys{f, *arch}.opt_int(suffix);
}

std::optional<double> metadata_number(const File& f, const std::string& suffix) {
  auto arch = f.get_string("general.architecture");
  if (!arch) throw ModelLoadError(f.origin() + ": metadata 'general.architecture' is missing");
  return Keys{f, *arch}.num(suffix);
}

nlohmann::json config_from_gguf(const File& f) {
  auto arch = f.get_string("general.architecture");
  if (!arch) throw ModelLoadError(f.origin() + ": metadata 'general.architecture' is missing");
  Keys k{f, *arch};
  const GgufFamily* family = gguf_family_reading(f, *arch);
  if (!family)
    throw UnsupportedError(f.origin() + ": GGUF architecture '" + *arch +
                           "' is not supported (supported: " + gguf_architecture_names() + ")");

  nlohmann::json c;
  c["model_type"] = family->model_type;
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

  // llama.cpp's converter permutes Q/K rows of Llama-style files so that
  // rotary pairs are adjacent (GPT-J style); the engine must rotate (2i, 2i+1) pairs.
  c["rope_interleaved"] = family->permuted_qk;
  if (family->read_config) family->read_config(f, c);

  if (auto b = f.get_int("tokenizer.ggml.bos_token_id")) c["bos_token_id"] = *b;
  if (auto e = f.get_int("tokenizer.ggml.eos_token_id")) c["eos_token_id"] = *e;
  if (auto p = f.get_int("tokenizer.ggml.padding_token_id")) c["pad_token_id"] = *p;
  c["torch_dtype"] = "float32";
  c["dtype"] = "float32";
  c["gguf_architecture"] = *arch;
  return c;
}

}  // namespace allm::gguf
