#pragma once
// Models other tools already keep on disk, used in place (never copied):
// Ollama's store ($OLLAMA_MODELS, else ~/.ollama/models: manifests naming a
// GGUF blob, its template and parameters) and LM Studio's models folder
// ($LMSTUDIO_MODELS, else ~/.lmstudio/models, else ~/.cache/lm-studio/models).
// resolve_model() finds them as "ollama-local:NAME[:TAG]", "lmstudio:PATH", or
// by a bare name when exactly one model matches. docs/models.md.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/checkpoint.hpp"

namespace allm {

struct StoredModel {
  std::string store;            // "ollama" or "lmstudio"
  std::string name;             // ollama: "llama3.2:latest" (registry/namespace kept when not the default)
  std::filesystem::path path;   // what load_checkpoint() opens: the GGUF blob/file or a model directory
  std::filesystem::path where;  // the manifest (ollama) or the folder (lmstudio) it was found in
  std::string format;           // "gguf", "safetensors" or "mlx"
  std::string quantization;     // "Q4_K_M", "F16", "4-bit" ... ("" when unknown)
  uint64_t size = 0;            // bytes of the weights
  // Ollama only: the template layer (Go template syntax, shown, not rendered —
  // the GGUF's own chat template is used), the params layer, the system layer.
  std::string ollama_template, ollama_system;
  nlohmann::json ollama_params = nlohmann::json::object();
};

std::filesystem::path ollama_models_dir();
std::filesystem::path lmstudio_models_dir();

// Every model of a store; an absent folder yields an empty list. A broken
// manifest is skipped with a warning naming it.
std::vector<StoredModel> scan_ollama_store(const std::filesystem::path& dir = ollama_models_dir());
std::vector<StoredModel> scan_lmstudio_store(const std::filesystem::path& dir = lmstudio_models_dir());

// "llama3.2" -> registry.ollama.ai/library/llama3.2:latest, as ollama parses names.
struct OllamaName {
  std::string registry = "registry.ollama.ai", nspace = "library", model, tag = "latest";
  std::string display() const;  // short form: "llama3.2:latest", "hf.co/org/x:Q4_K_M"
};
std::optional<OllamaName> parse_ollama_name(const std::string& name);
// The manifest of `name` in `dir`, read; nullopt when absent. ModelLoadError on a broken manifest.
std::optional<StoredModel> find_ollama_model(const std::string& name, const std::filesystem::path& dir = ollama_models_dir());

// Ollama's params layer as generation defaults of `checkpoint` (temperature,
// top_p, top_k, min_p, repeat_penalty): the store's choices beat the file's,
// a user's flags beat both. Other stores: no change.
void apply_stored_defaults(const StoredModel& model, Checkpoint& checkpoint);

// "Q4_K_M" from a GGUF file name or its general.file_type ("" when neither says).
std::string gguf_quantization(const std::filesystem::path& gguf);

}  // namespace allm
