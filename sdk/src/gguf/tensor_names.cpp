// GGUF tensor names -> Hugging Face names, per HF model_type: the Llama
// names here, each family's own from its table (gguf_family.hpp).
#include <map>

#include "allm/gguf.hpp"
#include "allm/gguf_family.hpp"

namespace allm::gguf {
namespace {

// Per-layer suffix (after "blk.N.") -> HF suffix (after "model.layers.N."):
// the family's own names first, then the Llama names every family shares.
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
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
  };
  if (const GgufFamily* family = gguf_family(model_type))
    for (const auto& [gguf, hf] : family->layer_tensors)
      if (gguf == s) return hf.empty() ? std::nullopt : std::optional<std::string>(hf);
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
