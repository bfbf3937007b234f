// GGUF tensor names -> Hugging Face names, per HF model_type.
#include <map>

#include "allm/gguf.hpp"

namespace allm::gguf {
namespace {

bool is_gemma(const std::string& t) { return t == "gemma2" || t == "gemma3_text"; }
bool post_norms(const std::string& t) { return is_gemma(t) || t == "olmo2"; }

// Per-layer suffix (after "blk.N.") -> HF suffix (after "model.layers.N.").
std::optional<std::string> layer_suffix(const std::string& model_type, const std::string& s) {
  static const std::map<std::string, std::string> common = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_output.bias", "self_attn.o_proj.bias"},
      {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
  };
  if (post_norms(model_type)) {
    if (s == "ffn_norm.weight") return "pre_feedforward_layernorm.weight";
    if (s == "post_attention_norm.weight") return "post_attention_layernorm.weight";
    if (s == "post_ffw_norm.weight") return "post_feedforward_layernorm.weight";
  } else if (model_type == "gpt_oss") {
    // llama.cpp calls gpt-oss's pre-MLP norm a post-attention norm.
    if (s == "post_attention_norm.weight") return "post_attention_layernorm.weight";
    if (s == "attn_sinks.weight") return "self_attn.sinks";
    if (s == "ffn_gate_inp.weight") return "mlp.router.weight";
    if (s == "ffn_gate_inp.bias") return "mlp.router.bias";
    if (s == "ffn_gate_exps.weight") return "mlp.experts.{}.gate_proj.weight";
    if (s == "ffn_up_exps.weight") return "mlp.experts.{}.up_proj.weight";
    if (s == "ffn_down_exps.weight") return "mlp.experts.{}.down_proj.weight";
    // [experts, n] stacks, kept whole.
    if (s == "ffn_gate_exps.bias") return "mlp.experts.gate_proj.bias";
    if (s == "ffn_up_exps.bias") return "mlp.experts.up_proj.bias";
    if (s == "ffn_down_exps.bias") return "mlp.experts.down_proj.bias";
  } else if (s == "ffn_norm.weight") {
    return "post_attention_layernorm.weight";
  }
  if (model_type == "mixtral") {
    if (s == "ffn_gate_inp.weight") return "block_sparse_moe.gate.weight";
    if (s == "ffn_gate_exps.weight") return "block_sparse_moe.experts.{}.w1.weight";
    if (s == "ffn_down_exps.weight") return "block_sparse_moe.experts.{}.w2.weight";
    if (s == "ffn_up_exps.weight") return "block_sparse_moe.experts.{}.w3.weight";
  } else {
    if (s == "ffn_gate_inp.weight") return "mlp.gate.weight";
    if (s == "ffn_gate_exps.weight") return "mlp.experts.{}.gate_proj.weight";
    if (s == "ffn_down_exps.weight") return "mlp.experts.{}.down_proj.weight";
    if (s == "ffn_up_exps.weight") return "mlp.experts.{}.up_proj.weight";
  }
  auto it = common.find(s);
  if (it != common.end()) return it->second;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> hf_tensor_name(const std::string& model_type, const std::string& name) {
  if (name == "token_embd.weight") return "model.embed_tokens.weight";
  if (name == "output_norm.weight") return "model.norm.weight";
  if (name == "output.weight") return "lm_head.weight";
  if (name.rfind("blk.", 0) != 0) return std::nullopt;
  auto dot = name.find('.', 4);
  if (dot == std::string::npos || dot == 4) return std::nullopt;
  std::string layer = name.substr(4, dot - 4);
  for (char c : layer)
    if (c < '0' || c > '9') return std::nullopt;
  auto suffix = layer_suffix(model_type, name.substr(dot + 1));
  if (!suffix) return std::nullopt;
  return "model.layers." + layer + "." + *suffix;
}

}  // namespace allm::gguf
