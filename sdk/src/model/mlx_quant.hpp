#pragma once
// MLX affine quantization: reading the config's recipe and merging each
// quantized module's "<P>.weight" (U32 codes), "<P>.scales" and "<P>.biases"
// into one MLX_AFFINE tensor view.
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "allm/tensor.hpp"

namespace allm::detail {

struct QuantParams {
  int bits = 0;
  int group_size = 0;
};

struct MlxQuantConfig {
  bool enabled = false;
  std::string mode;  // "affine"
  QuantParams defaults;
  // Per-module overrides keyed by module path; nullopt = left in float (`false`).
  std::map<std::string, std::optional<QuantParams>> overrides;
  std::string config_key;  // "quantization" or "quantization_config", for messages
};

// Throws UnsupportedError for a non-affine mode, unsupported bits/group size,
// or a non-MLX quantization_config (quant_method gptq/awq/...).
MlxQuantConfig parse_mlx_quantization(const nlohmann::json& config, const std::string& where);

// A tensor as found in a file, with the file it came from.
struct RawTensor {
  Tensor tensor;
  std::string file;
};

// Replaces every quantized module's weight/scales/biases triple in `tensors`
// by one MLX_AFFINE "<P>.weight". Throws ModelLoadError naming the file and
// tensor when shapes disagree with the recipe or a part is missing.
void merge_mlx_quantized(std::map<std::string, RawTensor>& tensors, const MlxQuantConfig& quant,
                         const std::string& config_file);

}  // namespace allm::detail
