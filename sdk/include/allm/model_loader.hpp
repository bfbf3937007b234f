#pragma once
// Loading model checkpoints: a Hugging Face-style directory (config.json +
// safetensors, plain or MLX-quantized), or any file a registered loader claims
// (GGUF). See docs/models.md for formats, resolution order, cache and errors.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/checkpoint.hpp"

namespace allm {

struct LoadOptions {
  // When set, refuse (OutOfMemoryError) before mapping anything if the
  // weights plus a KV cache of this many tokens exceed available memory.
  std::optional<int64_t> context_length;
};

// Loads a checkpoint from a directory, a .safetensors file (its directory
// supplies config.json), or any file a registered loader claims (e.g. .gguf).
// Weights are memory-mapped, never copied. Throws ModelLoadError naming the
// file and tensor on bad input, UnsupportedError for formats/quantization
// modes this library does not handle.
Checkpoint load_checkpoint(const std::filesystem::path& path);
Checkpoint load_checkpoint(const std::filesystem::path& path, const LoadOptions& options);

// ---- Pluggable loaders -----------------------------------------------------
// Another component (the GGUF reader) plugs in without touching this code:
// a loader whose predicate accepts a path is tried before the built-in
// directory loader. Later registrations under the same name replace earlier.
using CheckpointPredicate = std::function<bool(const std::filesystem::path&)>;
using CheckpointLoaderFn = std::function<Checkpoint(const std::filesystem::path&)>;
void register_checkpoint_loader(const std::string& name, CheckpointPredicate accepts, CheckpointLoaderFn load);
std::vector<std::string> checkpoint_loader_names();

// ---- Config ----------------------------------------------------------------
// config.json as read, normalised per the contract in checkpoint.hpp.
// `where` names the file in error messages.
nlohmann::json normalize_config(const nlohmann::json& raw, const std::string& where = "config.json");
// Reads and normalises a config file (ModelLoadError with line/column on bad JSON).
nlohmann::json read_config_file(const std::filesystem::path& file);

// model_type from config["model_type"], else architectures[0] mapped
// (Qwen3ForCausalLM -> qwen3, ...), else the directory name (qwen3, llama,
// mixtral, ...). Empty when nothing matches.
std::string detect_model_type(const nlohmann::json& config, const std::filesystem::path& model_dir = {});
// Maps a transformers class name ("LlamaForCausalLM") to a model_type; "" if unknown.
std::string model_type_from_architecture(const std::string& architecture);

// Throws UnsupportedError naming `model_type` and listing `installed` (the
// names of Registry::instance().list(ALLM_KIND_ARCHITECTURE)) unless present.
void require_architecture(const std::string& model_type, const std::vector<std::string>& installed);

// ---- Generation defaults -----------------------------------------------------
// From generation_config.json (absent file -> all unset); eos ids fall back to
// config.json's eos_token_id. Precedence when sampling: user setting >
// generation_config.json > allm config default (docs/models.md).
GenerationDefaults read_generation_defaults(const std::filesystem::path& model_dir, const nlohmann::json& config);

// "F32" -> "float32", "BF16" -> "bfloat16", ...
std::string torch_dtype_name(DType t);

// ---- Memory check ------------------------------------------------------------
struct MemoryEstimate {
  uint64_t weight_bytes = 0;    // bytes of the weight files (mapped, touched during inference)
  uint64_t kv_cache_bytes = 0;  // 2 * layers * kv_heads * head_dim * context * 4 (f32 K and V)
  std::optional<uint64_t> available_bytes;  // unset when the platform does not say
  std::string available_source;             // where available_bytes came from
  uint64_t required_bytes() const noexcept {  // saturating
    return weight_bytes > UINT64_MAX - kv_cache_bytes ? UINT64_MAX : weight_bytes + kv_cache_bytes;
  }
};

// KV-cache bytes of `context_length` tokens for this (normalised) config;
// 0 when the config lacks the layer/head counts.
uint64_t kv_cache_bytes(const nlohmann::json& config, int64_t context_length);
// min(MemAvailable from /proc/meminfo, cgroup memory.max - memory.current);
// unset when neither can be read. `source` receives a description.
std::optional<uint64_t> available_memory_bytes(std::string* source = nullptr);
// Before loading: file sizes of the weights + KV cache from config.json
// (for a single file such as .gguf: its size; no KV estimate).
MemoryEstimate estimate_memory(const std::filesystem::path& model, int64_t context_length);
// After loading (mapping commits nothing yet): weights().total_bytes() + KV cache.
MemoryEstimate estimate_memory(const Checkpoint& checkpoint, int64_t context_length);
// Throws OutOfMemoryError giving both numbers when required > available.
// `what` names the model in the message.
void check_memory(const MemoryEstimate& estimate, const std::string& what);

}  // namespace allm
