#pragma once
// A model checkpoint as loaded from disk, before any architecture touches it:
// the normalised config, the memory-mapped weights, generation defaults and
// the paths of the tokenizer/template files. Produced by the model loader
// (safetensors directories, GGUF files); consumed by architecture plugins.
//
// CONTRACT between the loader and the engine (keep in sync with docs/):
//  * `config` is config.json with spellings normalised: `rope_parameters`
//    (transformers 5) folded into `rope_theta` / `rope_scaling` /
//    `rope_local_base_freq`; `dtype` <-> `torch_dtype`; a `gemma3` config's
//    `text_config` lifted to the top level with model_type `gemma3_text`.
//  * `weights` maps tensor names exactly as stored in the checkpoint (e.g.
//    "model.layers.0.self_attn.q_proj.weight") to views of the mapped bytes.
//    MLX-quantized linears appear once, under "<P>.weight", with dtype
//    MLX_AFFINE and `scales`/`biases`/`bits`/`group_size` filled in; their
//    ".scales"/".biases" tensors are not listed separately.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/tensor.hpp"

namespace allm {

// Sampling defaults read from generation_config.json (unset fields stay nullopt).
struct GenerationDefaults {
  std::optional<double> temperature, top_p, min_p, repetition_penalty;
  std::optional<int> top_k;
  std::vector<int32_t> eos_token_ids;
  std::optional<int32_t> bos_token_id;
};

struct QuantizationInfo {
  std::string mode;  // "" (none), "affine" (MLX), "gguf"
  int bits = 0;
  int group_size = 0;
};

class WeightStore {
 public:
  virtual ~WeightStore() = default;
  virtual const Tensor* find(const std::string& name) const = 0;
  // Throws ModelLoadError naming the tensor and the checkpoint when absent.
  virtual const Tensor& get(const std::string& name) const = 0;
  virtual std::vector<std::string> names() const = 0;
  virtual uint64_t total_bytes() const = 0;
};

struct Checkpoint {
  std::filesystem::path source;     // directory or .gguf file
  std::string model_type;           // selects the architecture plugin
  nlohmann::json config;            // normalised (see above)
  std::shared_ptr<WeightStore> weights;
  GenerationDefaults generation;
  QuantizationInfo quantization;
  std::string dtype;                // "float32", "bfloat16", ... of the float weights
  // Tokenizer and chat template sources, when present.
  std::optional<std::filesystem::path> tokenizer_json;
  std::optional<std::filesystem::path> tokenizer_config_json;
  std::optional<std::string> chat_template;   // already extracted text
  std::optional<std::string> tokenizer_json_text;  // for GGUF: synthesized tokenizer.json
};

}  // namespace allm
