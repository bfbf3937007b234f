// The model catalog: parsing, lookup, memory estimates (see hub/catalog.hpp).
#include "allm/hub/catalog.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "allm/json_depth.hpp"

namespace allm {
extern const char* const kBuiltinCatalogJson;
}

namespace allm::hub {

namespace {

using json = nlohmann::json;

// Bits per weight of each quantization, block scales included (llama.cpp's
// block layouts; MLX affine groups of 64 with a bf16 scale and bias).
double bits_for(const std::string& format, const std::string& quant) {
  static const std::pair<const char*, double> table[] = {
      {"F32", 32},     {"F16", 16},     {"BF16", 16},    {"Q8_0", 8.5},   {"Q6_K", 6.5625}, {"Q5_K_M", 5.69},
      {"Q5_K_S", 5.54}, {"Q5_0", 5.5},  {"Q4_K_M", 4.89}, {"Q4_K_S", 4.58}, {"Q4_0", 4.5},   {"Q3_K_M", 3.91},
      {"Q2_K", 3.35},  {"8bit", 8.5},   {"6bit", 6.5},   {"4bit", 4.5},   {"3bit", 3.5}};
  for (const auto& [name, bits] : table)
    if (quant == name) return bits;
  (void)format;
  return 16;
}

std::string field_path(const std::string& where, size_t i, const std::string& name, const std::string& key) {
  return where + ": models[" + std::to_string(i) + "]" + (name.empty() ? "" : " (" + name + ")") + "." + key;
}

}  // namespace

std::vector<CatalogEntry> parse_catalog(const std::string& text, const std::string& where) {
  json j;
  if (std::string depth = json_depth_error(text); !depth.empty()) throw ConfigError(where + ": " + depth);
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw ConfigError(where + ": not JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("models") || !j["models"].is_array())
    throw ConfigError(where + ": expected {\"models\": [...]}");
  std::vector<CatalogEntry> out;
  for (size_t i = 0; i < j["models"].size(); ++i) {
    const json& m = j["models"][i];
    CatalogEntry e;
    auto str = [&](const char* key, bool required) {
      if (!m.contains(key)) {
        if (required) throw ConfigError(field_path(where, i, e.name, key) + ": missing");
        return std::string();
      }
      if (!m[key].is_string()) throw ConfigError(field_path(where, i, e.name, key) + ": expected a string");
      return m[key].get<std::string>();
    };
    auto num = [&](const char* key) {
      if (!m.contains(key) || !m[key].is_number() || m[key].get<double>() <= 0)
        throw ConfigError(field_path(where, i, e.name, key) + ": expected a positive number");
      return m[key].get<double>();
    };
    if (!m.is_object()) throw ConfigError(where + ": models[" + std::to_string(i) + "]: expected an object");
    e.name = str("name", true);
    e.family = str("family", false);
    e.description = str("description", false);
    e.license = str("license", false);
    e.params_b = num("params_b");
    e.context = static_cast<int64_t>(num("context"));
    e.layers = static_cast<int>(num("layers"));
    e.kv_heads = static_cast<int>(num("kv_heads"));
    e.head_dim = static_cast<int>(num("head_dim"));
    e.gated = m.value("gated", false);
    if (m.contains("capabilities")) {
      if (!m["capabilities"].is_array()) throw ConfigError(field_path(where, i, e.name, "capabilities") + ": expected an array");
      for (const auto& c : m["capabilities"]) e.capabilities.push_back(c.get<std::string>());
    }
    if (m.contains("gguf")) {
      const json& g = m["gguf"];
      if (!g.is_object() || !g.contains("repo") || !g.contains("files") || !g["files"].is_object())
        throw ConfigError(field_path(where, i, e.name, "gguf") + ": expected {\"repo\", \"files\": {QUANT: FILE}}");
      for (const auto& [q, f] : g["files"].items())
        e.variants.push_back({"gguf", q, g["repo"].get<std::string>(), f.get<std::string>(), bits_for("gguf", q)});
    }
    if (m.contains("safetensors"))
      e.variants.push_back({"safetensors", "BF16", str("safetensors", true), "", 16});
    if (m.contains("mlx")) {
      if (!m["mlx"].is_object()) throw ConfigError(field_path(where, i, e.name, "mlx") + ": expected {BITS: REPO}");
      for (const auto& [q, r] : m["mlx"].items()) e.variants.push_back({"mlx", q, r.get<std::string>(), "", bits_for("mlx", q)});
    }
    if (e.variants.empty()) throw ConfigError(field_path(where, i, e.name, "gguf/safetensors/mlx") + ": no repo given");
    std::stable_sort(e.variants.begin(), e.variants.end(), [](const auto& a, const auto& b) {
      return a.format == b.format ? a.bits_per_weight > b.bits_per_weight : false;
    });
    for (const auto& o : out)
      if (o.name == e.name) throw ConfigError(field_path(where, i, e.name, "name") + ": duplicate name");
    out.push_back(std::move(e));
  }
  return out;
}

const std::vector<CatalogEntry>& catalog() {
  static const std::vector<CatalogEntry> entries = [] {
    if (const char* file = std::getenv("ALLM_CATALOG"); file && *file) {
      std::ifstream in(file);
      if (!in) throw ConfigError(std::string(file) + " ($ALLM_CATALOG): cannot read");
      std::ostringstream ss;
      ss << in.rdbuf();
      return parse_catalog(ss.str(), file);
    }
    return parse_catalog(kBuiltinCatalogJson, "config/models-catalog.json (built in)");
  }();
  return entries;
}

const CatalogEntry* find_in_catalog(const std::string& name) {
  for (const auto& e : catalog())
    if (e.name == name) return &e;
  return nullptr;
}

uint64_t variant_weight_bytes(const CatalogEntry& e, const CatalogVariant& v) {
  return static_cast<uint64_t>(e.params_b * 1e9 * v.bits_per_weight / 8.0);
}

uint64_t catalog_kv_bytes(const CatalogEntry& e, int64_t context) {
  return 2ull * static_cast<uint64_t>(e.layers) * static_cast<uint64_t>(e.kv_heads) *
         static_cast<uint64_t>(e.head_dim) * static_cast<uint64_t>(std::max<int64_t>(context, 0)) * 4ull;
}

const CatalogVariant& pick_variant(const CatalogEntry& e, const std::string& format, const std::string& quant) {
  auto eq = [](std::string a, std::string b) {
    std::transform(a.begin(), a.end(), a.begin(), ::tolower);
    std::transform(b.begin(), b.end(), b.begin(), ::tolower);
    return a == b;
  };
  for (const auto& v : e.variants)
    if ((format.empty() || eq(v.format, format)) && (quant.empty() || eq(v.quant, quant))) {
      if (format.empty() && quant.empty()) break;
      return v;
    }
  if (format.empty() && quant.empty()) {
    for (const auto& v : e.variants)
      if (v.format == "gguf" && v.quant == "Q4_K_M") return v;
    return e.variants.front();
  }
  std::string choices;
  for (const auto& v : e.variants) choices += (choices.empty() ? "" : ", ") + v.format + " " + v.quant;
  throw InvalidArgumentError(e.name + " has no " + (format.empty() ? "" : format + " ") + quant +
                             " variant; it has: " + choices);
}

}  // namespace allm::hub
