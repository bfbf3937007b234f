#pragma once
// A checkpoint's own sampling defaults. Part of the contract (the provider
// API's parameter resolution takes them), so it lives apart from the engine's
// checkpoint.hpp, which fills them from generation_config.json or GGUF metadata.
#include <cstdint>
#include <optional>
#include <vector>

namespace allm {

// Sampling defaults read from generation_config.json (unset fields stay nullopt).
struct GenerationDefaults {
  std::optional<double> temperature, top_p, min_p, repetition_penalty;
  std::optional<int> top_k;
  std::optional<bool> do_sample;  // false: the checkpoint asks for greedy decoding
  std::vector<int32_t> eos_token_ids;
  std::optional<int32_t> bos_token_id;
};

}  // namespace allm
