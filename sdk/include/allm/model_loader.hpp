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
#include "allm/local_stores.hpp"
#include "allm/model_cache.hpp"

namespace allm {

struct LoadOptions {
  // When set, refuse (OutOfMemoryError) before mapping anything if the
  // weights plus a KV cache of this many tokens exceed available memory.
  std::optional<int64_t> context_length;
};

// Loads a checkpoint from a directory, a .safetensors file (its directory
// supplies config.json), or any file a registered loader claims (e.g. .gguf):
// through the first registered checkpoint_loader component that accepts the path.
// Weights are memory-mapped, never copied. Throws ModelLoadError naming the
// file and tensor on bad input, UnsupportedError for formats/quantization
// modes this library does not handle.
Checkpoint load_checkpoint(const std::filesystem::path& path);
Checkpoint load_checkpoint(const std::filesystem::path& path, const LoadOptions& options);

// ---- Resolution ------------------------------------------------------------
struct ResolvedModel {
  std::filesystem::path path;  // what load_checkpoint() should open
  std::string kind;            // "directory", "file", "hf-cache", "ollama" or "lmstudio"
  std::string repo_id;         // hf-cache: "org/name"
  std::string revision;        // hf-cache: as requested ("main" by default)
  std::string commit;          // hf-cache: the snapshot's commit hash
  std::optional<StoredModel> stored;  // ollama/lmstudio: the store's entry (name, template, params)
};

// Resolves what a user typed, in this order:
//  1. an existing path: a checkpoint directory, or a file (.safetensors,
//     .gguf, anything a registered loader accepts);
//  2. a Hugging Face repo id "org/name[@revision]" in the local HF cache
//     (hf_hub_cache_dir()): refs/<revision> -> snapshots/<commit>, revision
//     "main" by default, or a commit hash (or unique prefix of one). A
//     snapshot without config.json but with one .gguf file resolves to it;
//  3. "ollama-local:NAME[:TAG]" in Ollama's store, "lmstudio:PUBLISHER/REPO[/FILE]"
//     in LM Studio's (local_stores.hpp), used in place;
//  4. a bare name no HF cache entry matches: the one Ollama or LM Studio
//     model of that name (ModelLoadError listing them when several match).
// Throws ModelLoadError listing every place looked in when nothing matches.
ResolvedModel resolve_model(const std::string& spec);
// A ResolvedModel as JSON and back, so a front end that resolved a spec can
// hand the result to a provider plugin (its "resolved" option) instead of the
// spec being resolved again. from_json throws InvalidArgumentError naming
// `where` and the field.
nlohmann::json resolved_model_to_json(const ResolvedModel& model);
ResolvedModel resolved_model_from_json(const nlohmann::json& j, const std::string& where);
// resolve_model() + load_checkpoint(), served from `cache` when already loaded
// (keyed by the resolved path; the memory check of `options` runs on the first load).
std::shared_ptr<const Checkpoint> load_model_cached(const std::string& spec, const LoadOptions& options = {},
                                                    ModelCache& cache = ModelCache::instance());

// The HF hub cache: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub (the same order huggingface_hub uses).
std::filesystem::path hf_hub_cache_dir();

struct HfCachedRevision {
  std::string commit;
  std::vector<std::string> refs;  // branch/tag names pointing at it ("main")
  std::filesystem::path snapshot;
};
struct HfCachedRepo {
  std::string repo_id;  // "org/name"
  std::filesystem::path path;
  std::vector<HfCachedRevision> revisions;
  uint64_t size_on_disk = 0;  // bytes of the distinct blobs
  int64_t last_used = 0;      // newest atime/mtime of its files, seconds since the epoch
};
// Every model repo in the HF cache (datasets and spaces skipped), sorted by id.
// An absent cache directory yields an empty list.
std::vector<HfCachedRepo> scan_hf_cache(const std::filesystem::path& cache_dir = hf_hub_cache_dir());

// ---- Loaders ------------------------------------------------------------------
// Every format is read by a checkpoint_loader component (checkpoint_loader.hpp)
// a plugin registered: safetensors directories by plugins/loader_safetensors,
// GGUF by plugins/loader_gguf. The names of the registered loaders, in the
// order load_checkpoint() asks them (score, highest first).
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
