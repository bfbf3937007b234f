#pragma once
// Writes small hub-style checkpoints with random weights for tests that need
// shapes the fixtures do not have (other hidden sizes, head counts, windows,
// bfloat16 weights). Weight names follow the standard model.layers.N.* layout;
// q/k norms are added when `qk_norm` is set, q/k/v biases when `qkv_bias`.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/safetensors_writer.hpp"

namespace allm::test {

struct RandomShape {
  std::string model_type = "mistral";
  int64_t hidden = 96, layers = 3, heads = 6, kv_heads = 2, head_dim = 16, intermediate = 160, vocab = 256;
  int64_t window = 0;  // sliding_window, 0: none
  bool qk_norm = false, qkv_bias = false, tied = false, bf16 = false;
  uint64_t seed = 1;
};

class RandomCheckpointWriter {
 public:
  explicit RandomCheckpointWriter(const RandomShape& s) : s_(s), state_(s.seed * 0x9E3779B97F4A7C15ULL + 1) {}

  void write(const std::filesystem::path& dir) {
    const int64_t q = s_.heads * s_.head_dim, kv = s_.kv_heads * s_.head_dim;
    matrix("model.embed_tokens.weight", s_.vocab, s_.hidden, 1.0f);
    for (int64_t i = 0; i < s_.layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      vec(p + "input_layernorm.weight", s_.hidden, 1, 0.2f);
      vec(p + "post_attention_layernorm.weight", s_.hidden, 1, 0.2f);
      matrix(p + "self_attn.q_proj.weight", q, s_.hidden);
      matrix(p + "self_attn.k_proj.weight", kv, s_.hidden);
      matrix(p + "self_attn.v_proj.weight", kv, s_.hidden);
      matrix(p + "self_attn.o_proj.weight", s_.hidden, q);
      if (s_.qkv_bias) {
        vec(p + "self_attn.q_proj.bias", q, 0, 0.5f);
        vec(p + "self_attn.k_proj.bias", kv, 0, 0.5f);
        vec(p + "self_attn.v_proj.bias", kv, 0, 0.5f);
      }
      if (s_.qk_norm) {
        vec(p + "self_attn.q_norm.weight", s_.head_dim, 1, 0.2f);
        vec(p + "self_attn.k_norm.weight", s_.head_dim, 1, 0.2f);
      }
      matrix(p + "mlp.gate_proj.weight", s_.intermediate, s_.hidden);
      matrix(p + "mlp.up_proj.weight", s_.intermediate, s_.hidden);
      matrix(p + "mlp.down_proj.weight", s_.hidden, s_.intermediate);
    }
    vec("model.norm.weight", s_.hidden, 1, 0.2f);
    if (!s_.tied) matrix("lm_head.weight", s_.vocab, s_.hidden);

    nlohmann::json cfg = {{"model_type", s_.model_type},
                          {"hidden_size", s_.hidden},
                          {"num_hidden_layers", s_.layers},
                          {"num_attention_heads", s_.heads},
                          {"num_key_value_heads", s_.kv_heads},
                          {"head_dim", s_.head_dim},
                          {"intermediate_size", s_.intermediate},
                          {"vocab_size", s_.vocab},
                          {"max_position_embeddings", 512},
                          {"rms_norm_eps", 1e-6},
                          {"rope_theta", 10000.0},
                          {"tie_word_embeddings", s_.tied},
                          {"hidden_act", "silu"},
                          {"attention_bias", s_.qkv_bias},
                          {"eos_token_id", 2},
                          {"torch_dtype", s_.bf16 ? "bfloat16" : "float32"}};
    cfg["sliding_window"] = s_.window > 0 ? nlohmann::json(s_.window) : nlohmann::json(nullptr);
    if (s_.model_type == "qwen2" || s_.model_type == "qwen3") cfg["use_sliding_window"] = s_.window > 0;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "config.json") << cfg.dump(1) << "\n";
    write_safetensors(dir / "model.safetensors", tensors_);
  }

 private:
  float uniform() {  // xorshift64*, in [-1, 1)
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return static_cast<float>((state_ * 0x2545F4914F6CDD1DULL) >> 40) / 8388608.0f - 1.0f;
  }
  void add(const std::string& name, std::vector<int64_t> shape, float center, float spread) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    auto& buf = storage_.emplace_back(static_cast<size_t>(n) * (s_.bf16 ? 2 : 4));
    for (int64_t i = 0; i < n; ++i) {
      float f = center + uniform() * spread;
      if (s_.bf16) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        const auto h = static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        std::memcpy(buf.data() + 2 * i, &h, 2);
      } else {
        std::memcpy(buf.data() + 4 * i, &f, 4);
      }
    }
    tensors_.push_back({name, s_.bf16 ? DType::BF16 : DType::F32, std::move(shape), buf.data()});
  }
  void matrix(const std::string& name, int64_t rows, int64_t cols, float gain = 2.0f) {
    add(name, {rows, cols}, 0, gain * std::sqrt(3.0f / static_cast<float>(cols)));
  }
  void vec(const std::string& name, int64_t n, float center, float spread) { add(name, {n}, center, spread); }

  RandomShape s_;
  uint64_t state_;
  std::vector<std::vector<uint8_t>> storage_;  // deque-like: vectors never move their heap buffers
  std::vector<TensorToWrite> tensors_;
};

inline void write_random_checkpoint(const RandomShape& s, const std::filesystem::path& dir) {
  RandomCheckpointWriter(s).write(dir);
}

}  // namespace allm::test
