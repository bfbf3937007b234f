// The GGUF form the Gemma families share (gguf_family.hpp): each of the
// gemma2 and gemma3 plugins builds its table from these and adds its own.
#include "allm/gguf_family.hpp"

namespace allm::gguf {

GgufFamily gemma_sandwich_family(std::string model_type, std::string architecture) {
  GgufFamily f;
  f.model_type = std::move(model_type);
  f.architecture = std::move(architecture);
  f.norms_plus_one = true;
  f.layer_tensors = {{"ffn_norm.weight", "pre_feedforward_layernorm.weight"},
                     {"post_attention_norm.weight", "post_attention_layernorm.weight"},
                     {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"}};
  return f;
}

void read_gemma_config(const File& file, nlohmann::json& c, int period) {
  c["hidden_activation"] = c["hidden_act"] = "gelu_pytorch_tanh";
  c["query_pre_attn_scalar"] = c["head_dim"];
  nlohmann::json types = nlohmann::json::array();
  for (int64_t i = 0; i < c["num_hidden_layers"].get<int64_t>(); ++i)
    types.push_back(i % period < period - 1 ? "sliding_attention" : "full_attention");
  c["layer_types"] = types;
  if (auto w = metadata_int(file, "attention.sliding_window")) c["sliding_window"] = *w;
}

}  // namespace allm::gguf
