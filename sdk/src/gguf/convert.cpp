// Checkpoint (HF or MLX) -> GGUF as llama.cpp's converter and llama-quantize
// write it: architecture keys, vocabulary, HF -> GGUF tensor names, stacked
// experts, Q/K row permutation and 1 + w norms where the family's table
// (gguf_family.hpp) asks, llama3 rope factors, the family's own keys and
// tensors, and the per-tensor type recipe of the requested file type.
#include <algorithm>
#include <cmath>
#include <thread>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/gguf_family.hpp"
#include "allm/weight_format.hpp"
#include "gguf/convert_vocab.hpp"
#include "gguf/types.hpp"

namespace allm::gguf {
namespace {

// The family's GGUF table (declared by its architecture plugin), or a clear refusal.
const GgufFamily& family_for(const std::string& model_type, const std::string& origin) {
  const GgufFamily* f = gguf_family(model_type);
  if (!f || !f->writable)
    throw UnsupportedError(origin + ": cannot write model_type '" + model_type +
                           "' as GGUF (no loaded architecture plugin declares a GGUF form for it)");
  return *f;
}

// HF name -> (GGUF name, expert index or -1), by inverting hf_tensor_name.
struct GgufName {
  std::string name;
  int64_t expert = -1;
};
bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<GgufName> gguf_name(const GgufFamily& family, const std::string& hf) {
  const std::string& model_type = family.model_type;
  std::vector<std::string> suffixes = {
      "attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_q.bias", "attn_k.bias",
      "attn_v.bias", "attn_output.weight", "attn_output.bias", "attn_q_norm.weight", "attn_k_norm.weight",
      "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "ffn_norm.weight"};
  for (const auto& [gguf, mapped] : family.layer_tensors) suffixes.push_back(gguf);
  for (const char* top : {"token_embd.weight", "output_norm.weight", "output.weight"})
    if (hf_tensor_name(model_type, top) == hf) return GgufName{top};
  // "model.layers.<N>.<rest>"
  const std::string prefix = "model.layers.";
  if (hf.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const size_t layer_end = hf.find('.', prefix.size());
  if (layer_end == std::string::npos || layer_end + 1 == hf.size()) return std::nullopt;
  const std::string layer = hf.substr(prefix.size(), layer_end - prefix.size());
  if (!all_digits(layer)) return std::nullopt;
  std::string rest = hf.substr(layer_end + 1);
  // "<...>experts.<E>.<tail>" -> "<...>experts.{}.<tail>" and expert E
  int64_t expert = -1;
  if (const size_t at = rest.rfind("experts."); at != std::string::npos) {
    const size_t begin = at + 8, end = rest.find('.', begin);
    if (end != std::string::npos && all_digits(rest.substr(begin, end - begin))) {
      expert = std::stoll(rest.substr(begin, end - begin));
      rest = rest.substr(0, begin) + "{}" + rest.substr(end);
    }
  }
  for (const auto& s : suffixes) {
    auto mapped = hf_tensor_name(model_type, "blk.0." + s);
    if (mapped && *mapped == "model.layers.0." + rest) return GgufName{"blk." + layer + "." + s, expert};
  }
  return std::nullopt;
}

enum class Role { other, attn_v, ffn_down, output, embedding, router, vector };

Role role_of(const std::string& gguf, int64_t rank) {
  if (rank == 1 || gguf.ends_with(".bias")) return Role::vector;  // biases stay F32, stacked or not
  if (gguf == "output.weight") return Role::output;
  if (gguf == "token_embd.weight") return Role::embedding;
  if (gguf.find("attn_v.weight") != std::string::npos) return Role::attn_v;
  if (gguf.find("ffn_down") != std::string::npos) return Role::ffn_down;
  if (gguf.find("ffn_gate_inp") != std::string::npos) return Role::router;
  return Role::other;
}

int64_t layer_of(const std::string& gguf) {
  if (gguf.rfind("blk.", 0) != 0) return -1;
  return std::stoll(gguf.substr(4, gguf.find('.', 4) - 4));
}

// llama-quantize's "use more bits" layers of the *_M recipes.
bool more_bits(int64_t layer, int64_t layers) {
  return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

DType fallback(DType t, int64_t cols) {
  if (cols % int64_t(detail::geometry(t).elems) == 0) return t;
  switch (t) {  // llama-quantize's substitutes for rows that are not whole super-blocks
    case DType::Q4_K: return cols % 32 == 0 ? DType::Q5_0 : DType::F16;
    case DType::Q5_K: return cols % 32 == 0 ? DType::Q5_1 : DType::F16;
    case DType::Q6_K: return cols % 32 == 0 ? DType::Q8_0 : DType::F16;
    default: return DType::F16;
  }
}

DType choose_type(FileType ft, Role role, int64_t layer, int64_t layers, int64_t cols, bool tied, bool experts) {
  if (role == Role::vector || role == Role::router) return DType::F32;
  switch (ft) {
    case FileType::MXFP4_MOE: return experts ? fallback(DType::MXFP4, cols) : fallback(DType::Q8_0, cols);
    case FileType::F32: return DType::F32;
    case FileType::F16: return DType::F16;
    case FileType::BF16: return DType::BF16;
    case FileType::Q8_0: return fallback(DType::Q8_0, cols);
    case FileType::Q4_0:
      if (role == Role::output || (role == Role::embedding && tied)) return fallback(DType::Q6_K, cols);
      return fallback(DType::Q4_0, cols);
    case FileType::Q4_K_M:
      if (role == Role::output || (role == Role::embedding && tied)) return fallback(DType::Q6_K, cols);
      if ((role == Role::attn_v || role == Role::ffn_down) && more_bits(layer, layers)) return fallback(DType::Q6_K, cols);
      return fallback(DType::Q4_K, cols);
  }
  return DType::F32;
}

int ftype_id(FileType t) {
  switch (t) {
    case FileType::F32: return 0;
    case FileType::F16: return 1;
    case FileType::Q4_0: return 2;
    case FileType::Q8_0: return 7;
    case FileType::Q4_K_M: return 15;
    case FileType::BF16: return 32;
    case FileType::MXFP4_MOE: return 38;
  }
  return 0;
}

// Rows of `t` as floats, whatever its stored format.
void read_rows(const Tensor& t, int64_t r0, int64_t r1, float* out) {
  if (t.shape.size() == 1) {
    dequantize_row(t.dtype, t.data, out, t.shape[0]);
    return;
  }
  weight_format_of(t).dequant_rows(t, r0, r1, out);
}

struct Source {
  std::vector<const Tensor*> parts;  // one, or one per expert
  std::vector<int64_t> shape;        // output shape (PyTorch order)
};

// llama.cpp's converter reorders each head's rows so rotary pairs are adjacent.
int64_t permuted_source_row(int64_t r, int64_t head_dim) {
  int64_t h = r / head_dim, i = r % head_dim, half = head_dim / 2;
  return h * head_dim + (i % 2) * half + i / 2;
}

std::vector<uint8_t> encode_tensor(const Source& src, DType type, bool permute, int64_t head_dim, bool plus_one) {
  const int64_t cols = src.shape.back();
  const int64_t rows_per_part = src.shape.size() == 1 ? 1 : src.shape[src.shape.size() - 2];
  const int64_t total_rows = rows_per_part * int64_t(src.parts.size());
  const size_t rb = row_bytes(type, cols);
  std::vector<uint8_t> out(rb * size_t(total_rows));
  unsigned workers = std::max(1u, std::min(std::thread::hardware_concurrency(), unsigned(total_rows / 16 + 1)));
  auto work = [&](unsigned w) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = w; r < total_rows; r += workers) {
      const Tensor& part = *src.parts[size_t(r / rows_per_part)];
      int64_t local = r % rows_per_part;
      if (permute) local = permuted_source_row(local, head_dim);
      read_rows(part, local, local + 1, row.data());
      if (plus_one)
        for (auto& v : row) v += 1.0f;
      quantize_row(type, row.data(), out.data() + size_t(r) * rb, cols);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  return out;
}

// llama3 rope scaling as llama.cpp stores it: one divisor per frequency,
// computed in float32 as its converter does.
std::vector<float> llama3_factors(const nlohmann::json& c, int64_t rot_dim) {
  const auto& s = c["rope_scaling"];
  const float base = float(c.value("rope_theta", 10000.0));
  const float factor = float(s.value("factor", 8.0)), low = float(s.value("low_freq_factor", 1.0));
  const float high = float(s.value("high_freq_factor", 4.0));
  const float old_ctx = float(s.value("original_max_position_embeddings", 8192.0));
  const float low_wl = old_ctx / low, high_wl = old_ctx / high;
  std::vector<float> out;
  for (int64_t i = 0; i < rot_dim; i += 2) {
    float freq = 1.0f / std::pow(base, float(i) / float(rot_dim));
    float wl = float(2 * M_PI) / freq;
    if (wl < high_wl) out.push_back(1.0f);
    else if (wl > low_wl) out.push_back(factor);
    else {
      float smooth = (old_ctx / wl - low) / (high - low);
      out.push_back(1.0f / ((1 - smooth) / factor + smooth));
    }
  }
  return out;
}

void write_arch_metadata(const Checkpoint& ck, const GgufFamily& a, FileType ft, Writer& w, int64_t& rot_dim) {
  const auto& c = ck.config;
  auto k = [&](const std::string& s) { return a.architecture + "." + s; };
  auto need = [&](const char* key) -> int64_t {
    if (!c.contains(key) || !c[key].is_number_integer())
      throw ModelLoadError(ck.source.string() + ": config.json '" + key + "' is missing");
    return c[key].get<int64_t>();
  };
  int64_t hidden = need("hidden_size"), heads = need("num_attention_heads");
  int64_t kv = c.value("num_key_value_heads", heads);
  int64_t head_dim = c.contains("head_dim") && c["head_dim"].is_number_integer() ? c["head_dim"].get<int64_t>() : hidden / heads;
  rot_dim = int64_t(double(head_dim) * c.value("partial_rotary_factor", 1.0));
  w.set("general.architecture", Value::string(a.architecture));
  w.set("general.name", Value::string(ck.source.filename().string()));
  w.set("general.file_type", Value::u32(uint32_t(ftype_id(ft))));
  w.set("general.quantization_version", Value::u32(2));
  w.set(k("block_count"), Value::u32(uint32_t(need("num_hidden_layers"))));
  w.set(k("context_length"), Value::u32(uint32_t(c.value("max_position_embeddings", int64_t(4096)))));
  w.set(k("embedding_length"), Value::u32(uint32_t(hidden)));
  if (c.contains("intermediate_size")) w.set(k("feed_forward_length"), Value::u32(uint32_t(need("intermediate_size"))));
  w.set(k("attention.head_count"), Value::u32(uint32_t(heads)));
  w.set(k("attention.head_count_kv"), Value::u32(uint32_t(kv)));
  w.set(k("attention.key_length"), Value::u32(uint32_t(head_dim)));
  w.set(k("attention.value_length"), Value::u32(uint32_t(head_dim)));
  w.set(k("rope.freq_base"), Value::f32(float(c.value("rope_theta", 10000.0))));
  w.set(k("rope.dimension_count"), Value::u32(uint32_t(rot_dim)));
  w.set(k("attention.layer_norm_rms_epsilon"), Value::f32(float(c.value("rms_norm_eps", 1e-6))));
  w.set(k("vocab_size"), Value::u32(uint32_t(need("vocab_size"))));
  int64_t experts = c.value("num_local_experts", c.value("num_experts", int64_t(0)));
  if (experts > 0) {
    w.set(k("expert_count"), Value::u32(uint32_t(experts)));
    w.set(k("expert_used_count"), Value::u32(uint32_t(need("num_experts_per_tok"))));
    if (c.contains("moe_intermediate_size"))
      w.set(k("expert_feed_forward_length"), Value::u32(uint32_t(need("moe_intermediate_size"))));
  }
  if (a.write_metadata) a.write_metadata(ck, w);
  if (c.contains("rope_scaling") && c["rope_scaling"].is_object()) {
    const auto& rs = c["rope_scaling"];
    std::string type = rs.value("rope_type", rs.value("type", std::string("default")));
    if (type == "linear") {
      w.set(k("rope.scaling.type"), Value::string("linear"));
      w.set(k("rope.scaling.factor"), Value::f32(float(rs.value("factor", 1.0))));
    } else if (type == "yarn") {
      // As llama.cpp's converter writes it (truncate has no key: llama.cpp always rounds the range outwards).
      w.set(k("rope.scaling.type"), Value::string("yarn"));
      w.set(k("rope.scaling.factor"), Value::f32(float(rs.value("factor", 1.0))));
      if (rs.contains("original_max_position_embeddings"))
        w.set(k("rope.scaling.original_context_length"),
              Value::u32(uint32_t(rs["original_max_position_embeddings"].get<double>())));
      if (rs.contains("attention_factor") && rs["attention_factor"].is_number())
        w.set(k("rope.scaling.yarn_attn_factor"), Value::f32(float(rs["attention_factor"].get<double>())));
      if (rs.contains("beta_fast") && rs["beta_fast"].is_number())
        w.set(k("rope.scaling.yarn_beta_fast"), Value::f32(float(rs["beta_fast"].get<double>())));
      if (rs.contains("beta_slow") && rs["beta_slow"].is_number())
        w.set(k("rope.scaling.yarn_beta_slow"), Value::f32(float(rs["beta_slow"].get<double>())));
    } else if (type != "llama3" && type != "default") {
      throw UnsupportedError(ck.source.string() + ": rope_scaling type '" + type + "' cannot be written to GGUF");
    }
  }
  // Every generation default that has a llama.cpp key (general.sampling.*),
  // so the GGUF samples like the original. do_sample=false means greedy
  // whatever the temperature says: written as temp 0.
  const GenerationDefaults& g = ck.generation;
  if (g.do_sample && !*g.do_sample) w.set("general.sampling.temp", Value::f32(0.0f));
  else if (g.temperature) w.set("general.sampling.temp", Value::f32(float(*g.temperature)));
  if (g.top_p) w.set("general.sampling.top_p", Value::f32(float(*g.top_p)));
  if (g.top_k) w.set("general.sampling.top_k", Value::i32(*g.top_k));
  if (g.min_p) w.set("general.sampling.min_p", Value::f32(float(*g.min_p)));
  if (g.repetition_penalty) w.set("general.sampling.penalty_repeat", Value::f32(float(*g.repetition_penalty)));
}

}  // namespace

std::optional<FileType> file_type_from_name(const std::string& name) noexcept {
  if (name == "f32") return FileType::F32;
  if (name == "f16") return FileType::F16;
  if (name == "bf16") return FileType::BF16;
  if (name == "q8_0") return FileType::Q8_0;
  if (name == "q4_0") return FileType::Q4_0;
  if (name == "q4_k_m") return FileType::Q4_K_M;
  if (name == "mxfp4_moe") return FileType::MXFP4_MOE;
  return std::nullopt;
}

void write_checkpoint(const Checkpoint& ck, const std::filesystem::path& out, const ConvertOptions& options) {
  const std::string origin = ck.source.string();
  const GgufFamily& arch = family_for(ck.model_type, origin);
  Writer w;
  int64_t rot_dim = 0;
  write_arch_metadata(ck, arch, options.type, w, rot_dim);
  detail::write_vocabulary(ck, w);

  const auto& c = ck.config;
  const int64_t layers = c["num_hidden_layers"].get<int64_t>();
  const int64_t heads = c["num_attention_heads"].get<int64_t>();
  const int64_t kv_heads = c.value("num_key_value_heads", heads);
  const int64_t head_dim = c.contains("head_dim") && c["head_dim"].is_number_integer() ? c["head_dim"].get<int64_t>()
                                                                                      : c["hidden_size"].get<int64_t>() / heads;
  const bool tied = !ck.weights->find("lm_head.weight");

  if (c.contains("rope_scaling") && c["rope_scaling"].is_object() &&
      c["rope_scaling"].value("rope_type", c["rope_scaling"].value("type", std::string())) == "llama3") {
    auto f = llama3_factors(c, rot_dim);
    std::vector<uint8_t> bytes(f.size() * 4);
    std::memcpy(bytes.data(), f.data(), bytes.size());
    w.add_tensor("rope_freqs.weight", DType::F32, {int64_t(f.size())}, std::move(bytes));
  }

  DerivedTensors derived;
  if (arch.derive_tensors) arch.derive_tensors(ck, derived);
  std::vector<std::pair<std::string, const Tensor*>> inputs;
  for (const auto& hf : ck.weights->names())
    if (!derived.replaced.count(hf)) inputs.emplace_back(hf, &ck.weights->get(hf));
  inputs.insert(inputs.end(), derived.named.begin(), derived.named.end());

  // Group HF tensors by GGUF name (experts stack into one tensor).
  std::map<std::string, std::map<int64_t, const Tensor*>> groups;
  std::vector<std::string> order;
  for (const auto& [hf, tensor] : inputs) {
    auto g = gguf_name(arch, hf);
    if (!g) {
      if (hf == "lm_head.weight" || hf.find("rotary_emb") != std::string::npos) continue;
      throw UnsupportedError(origin + ": tensor '" + hf + "' has no GGUF counterpart for model_type '" + ck.model_type + "'");
    }
    if (!groups.count(g->name)) order.push_back(g->name);
    groups[g->name][g->expert] = tensor;
  }
  // token_embd first, output last, blocks in numeric order (as llama.cpp writes).
  std::stable_sort(order.begin(), order.end(), [](const std::string& a, const std::string& b) {
    auto rank = [](const std::string& n) { return n == "token_embd.weight" ? -2 : n == "output.weight" ? 1 << 30 : n == "output_norm.weight" ? (1 << 30) - 1 : int(layer_of(n)); };
    return rank(a) < rank(b);
  });

  for (const auto& name : order) {
    const auto& parts = groups[name];
    Source src;
    for (auto& [e, t] : parts) src.parts.push_back(t);
    const Tensor& first = *src.parts[0];
    if (parts.begin()->first >= 0) {
      if (parts.rbegin()->first != int64_t(parts.size()) - 1)
        throw ModelLoadError(origin + ": experts of '" + name + "' are not numbered 0.." + std::to_string(parts.size() - 1));
      src.shape = {int64_t(parts.size()), first.rows(), first.cols()};
    } else {
      src.shape = first.shape;
    }
    for (auto* p : src.parts)
      if (p->cols() != first.cols() || p->rows() != first.rows())
        throw ModelLoadError(origin + ": experts of '" + name + "' differ in shape");
    const int64_t rank = int64_t(first.shape.size());
    Role role = role_of(name, rank);
    DType type = choose_type(options.type, role, layer_of(name), layers, src.shape.back(), tied, parts.begin()->first >= 0);
    bool permute = arch.permuted_qk && rank == 2 &&
                   (name.find("attn_q.weight") != std::string::npos || name.find("attn_k.weight") != std::string::npos);
    if (permute && first.rows() != (name.find("attn_q") != std::string::npos ? heads : kv_heads) * head_dim)
      throw ModelLoadError(origin + ": '" + name + "' rows do not match heads * head_dim");
    bool plus_one = arch.norms_plus_one && name.size() >= 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0;
    w.add_tensor(name, type, src.shape, [src, type, permute, head_dim, plus_one] {
      return encode_tensor(src, type, permute, head_dim, plus_one);
    });
  }
  w.write(out, options.progress);
}

}  // namespace allm::gguf
