// config.json normalisation: the spellings that differ between transformers
// versions and model families are folded into one form (checkpoint.hpp).
#include <fstream>
#include <sstream>

#include "allm/error.hpp"
#include "allm/json_depth.hpp"
#include "allm/model_loader.hpp"

namespace allm {

namespace {

using json = nlohmann::json;

bool is_layer_type_keyed(const json& rope_parameters) {
  for (const char* key : {"full_attention", "sliding_attention"}) {
    auto it = rope_parameters.find(key);
    if (it != rope_parameters.end() && it->is_object()) return true;
  }
  return false;
}

// rope_scaling as stored, made canonical: "type" -> "rope_type"; a plain
// ("default" with nothing else) scaling is null.
json canonical_scaling(json scaling) {
  if (!scaling.is_object()) return nullptr;
  if (!scaling.contains("rope_type") && scaling.contains("type")) scaling["rope_type"] = scaling["type"];
  scaling.erase("type");
  if (scaling.empty()) return nullptr;
  if (scaling.size() == 1 && scaling.begin().key() == "rope_type" && *scaling.begin() == "default") return nullptr;
  return scaling;
}

// Folds one rope_parameters block (rope_theta + scaling fields) into cfg.
void fold_rope_block(json& cfg, const json& block, const std::string& where) {
  if (!block.is_object()) throw ModelLoadError(where + ": rope_parameters is " + std::string(block.type_name()) + ", not an object");
  json scaling = block;
  if (auto t = block.find("rope_theta"); t != block.end()) cfg["rope_theta"] = *t;
  if (auto f = block.find("partial_rotary_factor"); f != block.end() && !cfg.contains("partial_rotary_factor"))
    cfg["partial_rotary_factor"] = *f;
  scaling.erase("rope_theta");
  scaling.erase("partial_rotary_factor");
  cfg["rope_scaling"] = canonical_scaling(std::move(scaling));
}

void normalize_rope(json& cfg, const std::string& where) {
  auto rp = cfg.find("rope_parameters");
  if (rp != cfg.end() && !rp->is_null()) {
    json params = *rp;
    if (params.is_object() && is_layer_type_keyed(params)) {
      // gemma3 (transformers 5): one block per attention type. Global layers
      // carry the main theta and scaling; sliding layers the local base.
      auto full = params.find("full_attention");
      if (full != params.end()) fold_rope_block(cfg, *full, where);
      auto sliding = params.find("sliding_attention");
      if (sliding != params.end() && sliding->is_object() && sliding->contains("rope_theta"))
        cfg["rope_local_base_freq"] = (*sliding)["rope_theta"];
    } else {
      fold_rope_block(cfg, params, where);
    }
  }
  cfg.erase("rope_parameters");
  cfg["rope_scaling"] = canonical_scaling(cfg.value("rope_scaling", json()));
}

void normalize_dtype(json& cfg) {
  json dtype;
  for (const char* key : {"torch_dtype", "dtype"}) {
    auto it = cfg.find(key);
    if (it != cfg.end() && it->is_string()) {
      dtype = *it;
      break;
    }
  }
  if (dtype.is_null()) return;
  cfg["torch_dtype"] = dtype;
  cfg["dtype"] = dtype;
}

void normalize_eos(json& cfg, const std::string& where) {
  auto it = cfg.find("eos_token_id");
  json ids = json::array();
  if (it != cfg.end()) {
    if (it->is_number_integer()) {
      ids.push_back(*it);
    } else if (it->is_array()) {
      for (const auto& v : *it) {
        if (!v.is_number_integer()) throw ModelLoadError(where + ": eos_token_id holds " + v.dump() + ", not an integer");
        ids.push_back(v);
      }
    } else if (!it->is_null()) {
      throw ModelLoadError(where + ": eos_token_id is " + it->dump() + ", not an integer or a list");
    }
  }
  cfg["eos_token_id"] = ids;
}

// gemma3 multimodal configs keep the language model under text_config: its
// keys are lifted to the top level (the other keys stay); model_type stays
// gemma3 (the text decoder plus the vision tower) when a vision_config is
// there, gemma3_text otherwise.
void lift_text_config(json& cfg) {
  if (auto mt = cfg.find("model_type"); mt == cfg.end() || *mt != "gemma3") return;
  auto tc = cfg.find("text_config");
  if (tc == cfg.end() || !tc->is_object()) return;
  json lifted = *tc;
  for (auto it = cfg.begin(); it != cfg.end(); ++it) {
    if (it.key() == "text_config" || it.key() == "model_type") continue;
    if (!lifted.contains(it.key())) lifted[it.key()] = it.value();
  }
  const auto vc = cfg.find("vision_config");
  lifted["model_type"] = vc != cfg.end() && vc->is_object() ? "gemma3" : "gemma3_text";
  cfg = std::move(lifted);
}

}  // namespace

json normalize_config(const json& raw, const std::string& where) {
  if (!raw.is_object()) throw ModelLoadError(where + ": top level is " + std::string(raw.type_name()) + ", not an object");
  json cfg = raw;
  try {
    lift_text_config(cfg);
    normalize_rope(cfg, where);
    normalize_dtype(cfg);
    normalize_eos(cfg, where);
  } catch (const json::exception& e) {  // a key of an unexpected JSON type
    throw ModelLoadError(where + ": unexpected value: " + e.what());
  }
  return cfg;
}

json read_config_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ModelLoadError(file.string() + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  json raw;
  std::string text = ss.str();
  if (std::string depth = json_depth_error(text); !depth.empty()) throw ModelLoadError(file.string() + ": " + depth);
  try {
    raw = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ModelLoadError(file.string() + ": malformed JSON: " + e.what());
  } catch (const json::exception& e) {
    throw ModelLoadError(file.string() + ": malformed JSON: " + e.what());
  }
  return normalize_config(raw, file.string());
}

}  // namespace allm
