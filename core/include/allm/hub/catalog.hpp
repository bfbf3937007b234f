#pragma once
// The curated model catalog (config/models-catalog.json, compiled in; $ALLM_CATALOG
// names another file): well-known models, their repos per format, sizes and
// capabilities, and an estimate of the memory each quantization needs.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace allm::hub {

struct CatalogVariant {
  std::string format;  // "gguf", "safetensors" or "mlx"
  std::string quant;   // "Q4_K_M", "Q8_0", "BF16", "4bit" ...
  std::string repo;    // org/name on the hub
  std::string file;    // gguf: the file inside repo ("" otherwise)
  double bits_per_weight = 16;
};

struct CatalogEntry {
  std::string name, family, description, license;
  double params_b = 0;  // billions of parameters (all experts of a MoE)
  int64_t context = 0;  // trained context length
  std::vector<std::string> capabilities;  // tools, vision, reasoning, embeddings
  int layers = 0, kv_heads = 0, head_dim = 0;
  bool gated = false;
  std::vector<CatalogVariant> variants;  // largest first within a format
};

// The catalog in use; ConfigError naming the file, entry and field when malformed.
const std::vector<CatalogEntry>& catalog();
std::vector<CatalogEntry> parse_catalog(const std::string& text, const std::string& where);
const CatalogEntry* find_in_catalog(const std::string& name);

// Weights of a variant (params x bits per weight) and the KV cache allm keeps
// (f32 K and V: 2 x layers x kv_heads x head_dim x context x 4 bytes).
uint64_t variant_weight_bytes(const CatalogEntry& e, const CatalogVariant& v);
uint64_t catalog_kv_bytes(const CatalogEntry& e, int64_t context);

// The variant `allm pull NAME` fetches: `format`/`quant` when given, else GGUF
// Q4_K_M, else the first listed. InvalidArgumentError listing the choices.
const CatalogVariant& pick_variant(const CatalogEntry& e, const std::string& format, const std::string& quant);

}  // namespace allm::hub
