// allm-make-random-checkpoint: writes a hub-style checkpoint directory
// (config.json, generation_config.json, model.safetensors) with random
// weights in the real shapes of a published model, for benchmarks that need
// realistic sizes without downloads.
//
//   allm-make-random-checkpoint --shape qwen3-0.6b --format bf16 --out DIR
//   allm-make-random-checkpoint --shape llama-3.2-1b --format mlx4 --out DIR
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "allm/safetensors_writer.hpp"
#include "random_model_tool.hpp"

namespace {

using allm::DType;
using allm::tools::Rng;
using nlohmann::json;

struct Shape {
  json config;
  int64_t hidden, layers, heads, kv_heads, head_dim, intermediate, vocab;
  bool qk_norm, tied;
};

Shape shape_of(const std::string& name) {
  if (name == "qwen3-0.6b")
    return {{{"architectures", {"Qwen3ForCausalLM"}}, {"model_type", "qwen3"}, {"hidden_size", 1024},
             {"num_hidden_layers", 28}, {"num_attention_heads", 16}, {"num_key_value_heads", 8}, {"head_dim", 128},
             {"intermediate_size", 3072}, {"vocab_size", 151936}, {"max_position_embeddings", 40960},
             {"rms_norm_eps", 1e-6}, {"rope_theta", 1000000.0}, {"rope_scaling", nullptr},
             {"tie_word_embeddings", true}, {"hidden_act", "silu"}, {"attention_bias", false},
             {"bos_token_id", 151643}, {"eos_token_id", 151645}},
            1024, 28, 16, 8, 128, 3072, 151936, true, true};
  if (name == "llama-3.2-1b")
    return {{{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 2048},
             {"num_hidden_layers", 16}, {"num_attention_heads", 32}, {"num_key_value_heads", 8}, {"head_dim", 64},
             {"intermediate_size", 8192}, {"vocab_size", 128256}, {"max_position_embeddings", 131072},
             {"rms_norm_eps", 1e-5}, {"rope_theta", 500000.0},
             {"rope_scaling",
              {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
               {"original_max_position_embeddings", 8192}}},
             {"tie_word_embeddings", true}, {"hidden_act", "silu"}, {"attention_bias", false}, {"mlp_bias", false},
             {"bos_token_id", 128000}, {"eos_token_id", 128001}},
            2048, 16, 32, 8, 64, 8192, 128256, false, true};
  throw allm::InvalidArgumentError("--shape: unknown '" + name + "' (qwen3-0.6b, llama-3.2-1b)");
}

uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

struct Writer {
  std::string format;  // f32, bf16, mlx4, mlx8
  Rng rng{0x9E3779B97F4A7C15ULL};
  std::vector<std::vector<uint8_t>> storage;
  std::vector<allm::TensorToWrite> tensors;

  void* add(const std::string& name, DType dt, std::vector<int64_t> shape, size_t bytes) {
    storage.emplace_back(bytes);
    tensors.push_back({name, dt, std::move(shape), storage.back().data()});
    return storage.back().data();
  }
  void floats(const std::string& name, std::vector<int64_t> shape, float center, float spread, bool keep_f32 = false) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    if (format == "f32" || keep_f32) {
      auto* p = static_cast<float*>(add(name, DType::F32, shape, n * 4));
      for (int64_t i = 0; i < n; ++i) p[i] = center + rng.uniform(spread);
    } else {
      auto* p = static_cast<uint16_t*>(add(name, DType::BF16, shape, n * 2));
      for (int64_t i = 0; i < n; ++i) p[i] = to_bf16(center + rng.uniform(spread));
    }
  }
  // A linear or embedding weight [rows, cols]: plain floats or MLX affine codes.
  void matrix(const std::string& prefix, int64_t rows, int64_t cols) {
    const float a = std::sqrt(3.0f / static_cast<float>(cols));
    if (format == "f32" || format == "bf16") return floats(prefix + ".weight", {rows, cols}, 0, a);
    const int bits = format == "mlx4" ? 4 : 8, group = 64;
    auto* codes = static_cast<uint32_t*>(add(prefix + ".weight", DType::U32, {rows, cols * bits / 32}, rows * cols * bits / 8));
    for (int64_t i = 0; i < rows * cols * bits / 32; ++i) codes[i] = static_cast<uint32_t>(rng.next() >> 32);
    const float levels = static_cast<float>((1 << bits) - 1);
    auto* scales = static_cast<uint16_t*>(add(prefix + ".scales", DType::BF16, {rows, cols / group}, rows * cols / group * 2));
    auto* biases = static_cast<uint16_t*>(add(prefix + ".biases", DType::BF16, {rows, cols / group}, rows * cols / group * 2));
    for (int64_t i = 0; i < rows * cols / group; ++i) {
      scales[i] = to_bf16(2 * a / levels);
      biases[i] = to_bf16(-a);
    }
  }
};

int run(int argc, char** argv) {
  std::string shape_name, format = "bf16", out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw allm::InvalidArgumentError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--shape") shape_name = next();
    else if (a == "--format") format = next();
    else if (a == "--out") out = next();
    else if (a == "-h" || a == "--help") {
      std::cout << "Usage: allm-make-random-checkpoint --shape qwen3-0.6b|llama-3.2-1b "
                   "[--format bf16|f32|mlx4|mlx8] --out DIR\n\n"
                   "Writes config.json, generation_config.json and model.safetensors with random\n"
                   "weights in the model's real shapes (MLX formats: group size 64, as mlx-community).\n";
      return 0;
    } else {
      throw allm::InvalidArgumentError("unknown option '" + a + "' (see --help)");
    }
  }
  if (shape_name.empty() || out.empty()) throw allm::InvalidArgumentError("--shape and --out are required");
  if (format != "bf16" && format != "f32" && format != "mlx4" && format != "mlx8")
    throw allm::InvalidArgumentError("--format: unknown '" + format + "' (bf16, f32, mlx4, mlx8)");
  Shape s = shape_of(shape_name);
  Writer w;
  w.format = format;
  w.matrix("model.embed_tokens", s.vocab, s.hidden);
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    w.floats(p + "input_layernorm.weight", {s.hidden}, 1, 0.1f);
    w.floats(p + "post_attention_layernorm.weight", {s.hidden}, 1, 0.1f);
    w.matrix(p + "self_attn.q_proj", s.heads * s.head_dim, s.hidden);
    w.matrix(p + "self_attn.k_proj", s.kv_heads * s.head_dim, s.hidden);
    w.matrix(p + "self_attn.v_proj", s.kv_heads * s.head_dim, s.hidden);
    w.matrix(p + "self_attn.o_proj", s.hidden, s.heads * s.head_dim);
    if (s.qk_norm) {
      w.floats(p + "self_attn.q_norm.weight", {s.head_dim}, 1, 0.1f);
      w.floats(p + "self_attn.k_norm.weight", {s.head_dim}, 1, 0.1f);
    }
    w.matrix(p + "mlp.gate_proj", s.intermediate, s.hidden);
    w.matrix(p + "mlp.up_proj", s.intermediate, s.hidden);
    w.matrix(p + "mlp.down_proj", s.hidden, s.intermediate);
  }
  w.floats("model.norm.weight", {s.hidden}, 1, 0.1f);
  if (!s.tied) w.matrix("lm_head", s.vocab, s.hidden);

  json cfg = s.config;
  cfg["torch_dtype"] = format == "f32" ? "float32" : "bfloat16";
  if (format == "mlx4" || format == "mlx8") {
    cfg["quantization"] = {{"group_size", 64}, {"bits", format == "mlx4" ? 4 : 8}};
    cfg["quantization_config"] = cfg["quantization"];
  }
  std::filesystem::create_directories(out);
  std::ofstream(std::filesystem::path(out) / "config.json") << cfg.dump(2) << "\n";
  std::ofstream(std::filesystem::path(out) / "generation_config.json")
      << json{{"eos_token_id", cfg["eos_token_id"]}, {"bos_token_id", cfg["bos_token_id"]}}.dump(2) << "\n";
  allm::write_safetensors(std::filesystem::path(out) / "model.safetensors", w.tensors, {{"format", "pt"}});
  std::cerr << "wrote " << out << " (" << shape_name << ", " << format << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return allm::tools::tool_main("allm-make-random-checkpoint", run, argc, argv); }
