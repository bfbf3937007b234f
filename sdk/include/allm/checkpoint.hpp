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
//    ".scales"/".biases" tensors are not listed separately. Logical shape is
//    [out, in] (in = packed_u32_cols * 32 / bits); codes are packed least
//    significant bits first across consecutive u32 words: code k of a row
//    occupies row bits [k*bits, (k+1)*bits) of the row's little-endian bit
//    stream, so for bits 3/5/6 a code may straddle two words (low part in the
//    earlier word). w = scale * code + bias, one scale/bias per group of
//    `group_size` consecutive inputs of a row.
//  * More normalisation done by the loader (docs/models.md has the list):
//    `rope_scaling` is always present (null when plain rope; a legacy "type"
//    key is copied to "rope_type"); `rope_parameters` is removed once folded;
//    `partial_rotary_factor` is lifted to the top level; `eos_token_id` is a
//    list of ints (possibly empty); `model_type` is always set (from
//    `architectures` or the directory name when config.json lacks it).
//  * `dtype` below is the storage type of the checkpoint's float tensors
//    (e.g. "bfloat16" for the non-quantized tensors of an MLX checkpoint),
//    `config["torch_dtype"]`/`config["dtype"]` what config.json declares.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/generation_defaults.hpp"
#include "allm/tensor.hpp"

namespace allm {

struct QuantizationInfo {
  std::string mode;  // "" (none), "affine" (MLX), "gguf"
  int bits = 0;
  int group_size = 0;
};

class WeightStore {
 public:
  virtual ~WeightStore() = default;
  // `t` (one of this store's tensors, or a row slice of one) in the layout
  // its weight format prefers for compute (WeightFormat::repack): converted
  // on the first request, then kept and shared for as long as the store
  // lives. `t` itself when the format has no such layout. Thread-safe.
  Tensor prepared(const Tensor& t) const;
  virtual const Tensor* find(const std::string& name) const = 0;
  // Throws ModelLoadError naming the tensor and the checkpoint when absent.
  virtual const Tensor& get(const std::string& name) const = 0;
  virtual std::vector<std::string> names() const = 0;
  virtual uint64_t total_bytes() const = 0;
 protected:
  // Called after `t`'s bytes were repacked into a copy the model uses
  // instead: a store backed by a file mapping may let those pages go.
  virtual void source_replaced(const Tensor& t) const { (void)t; }

 private:
  mutable std::mutex prepared_mutex_;
  mutable std::map<std::pair<const void*, std::vector<int64_t>>, std::pair<Tensor, std::shared_ptr<void>>> prepared_;
};

// The WeightStore every loader in this library fills: tensor views keyed by
// name plus the owners (file mappings) that keep their bytes alive. GGUF and
// other loaders can reuse it: add() each view, keep() what it points into.
class MappedWeightStore final : public WeightStore {
 public:
  explicit MappedWeightStore(std::string source) : source_(std::move(source)) {}
  // Throws ModelLoadError when `t.name` is already present.
  void add(Tensor t);
  void keep(std::shared_ptr<const void> owner) { owners_.push_back(std::move(owner)); }
  const Tensor* find(const std::string& name) const override;
  const Tensor& get(const std::string& name) const override;
  std::vector<std::string> names() const override;  // sorted
  uint64_t total_bytes() const override { return total_bytes_; }  // incl. MLX scales/biases
  size_t size() const noexcept { return tensors_.size(); }

 private:
  std::string source_;
  std::map<std::string, Tensor> tensors_;
  std::vector<std::shared_ptr<const void>> owners_;
  uint64_t total_bytes_ = 0;
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
