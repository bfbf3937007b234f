// Loading a Hugging Face-style checkpoint directory: config.json, one or
// more safetensors files (optionally sharded with an index), generation
// config and tokenizer files.
#include "safetensors_checkpoint.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "allm/checkpoint_loader.hpp"
#include "allm/error.hpp"
#include "allm/json_depth.hpp"
#include "allm/model_loader.hpp"
#include "allm/safetensors.hpp"
#include "mlx_quant.hpp"

namespace allm::detail {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ModelLoadError(file.string() + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const fs::path& file) {
  std::string text = read_text(file);
  if (std::string depth = json_depth_error(text); !depth.empty()) throw ModelLoadError(file.string() + ": " + depth);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw ModelLoadError(file.string() + ": malformed JSON: " + e.what());
  } catch (const json::exception& e) {
    throw ModelLoadError(file.string() + ": malformed JSON: " + e.what());
  }
}

std::string tensor_shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

std::vector<fs::path> weight_files(const fs::path& dir, json* weight_map) {
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::is_regular_file(index)) {
    json idx = read_json(index);
    auto wm = idx.find("weight_map");
    if (!idx.is_object() || wm == idx.end() || !wm->is_object())
      throw ModelLoadError(index.string() + ": missing \"weight_map\" object");
    std::set<std::string> shards;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it->is_string()) throw ModelLoadError(index.string() + ": weight_map[\"" + it.key() + "\"] is not a file name");
      const std::string f = it->get<std::string>();
      if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
        throw ModelLoadError(index.string() + ": weight_map[\"" + it.key() + "\"] names '" + f + "', not a file in the directory");
      shards.insert(f);
    }
    if (weight_map) *weight_map = *wm;
    std::vector<fs::path> out;
    for (const auto& s : shards) {
      if (!fs::is_regular_file(dir / s)) throw ModelLoadError(index.string() + ": shard '" + s + "' is missing from " + dir.string());
      out.push_back(dir / s);
    }
    return out;
  }
  if (fs::is_regular_file(dir / "model.safetensors")) return {dir / "model.safetensors"};
  std::vector<fs::path> shards;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.starts_with("model-") && n.ends_with(".safetensors") && n.find("-of-") != std::string::npos)
      shards.push_back(e.path());
  }
  std::sort(shards.begin(), shards.end());
  if (shards.empty())
    throw ModelLoadError(dir.string() + ": no weights found (looked for model.safetensors.index.json, model.safetensors, "
                         "model-NNNNN-of-NNNNN.safetensors)");
  return shards;
}

namespace {

// Shape of a tensor as config.json predicts it, where the config says.
void expect_shape(const std::map<std::string, RawTensor>& tensors, const json& cfg, const std::string& suffix,
                  std::vector<const char*> dims, const std::string& config_file) {
  std::vector<int64_t> want;
  for (const char* key : dims) {
    auto it = cfg.find(key);
    if (it == cfg.end() || !it->is_number_integer()) return;  // config silent: nothing to check
    if (it->get<int64_t>() <= 0)  // say what is wrong with the key, not that no tensor matches it
      throw ModelLoadError(config_file + ": config key '" + key + "' must be positive, got " + it->dump());
    want.push_back(it->get<int64_t>());
  }
  for (const auto& [name, raw] : tensors) {
    if (name != suffix && !name.ends_with("." + suffix)) continue;
    if (raw.tensor.shape == want) continue;
    std::string keys;
    for (const char* key : dims) keys += (keys.empty() ? "" : ", ") + std::string(key);
    throw ModelLoadError(raw.file + ": tensor '" + name + "' has shape " + tensor_shape_string(raw.tensor.shape) + " but " +
                         config_file + " (" + keys + ") implies " + tensor_shape_string(want));
  }
}

// A base-model checkpoint (saved from e.g. Qwen3Model rather than
// Qwen3ForCausalLM, as sentence-transformers saves embedding models) stores
// "embed_tokens.weight", "layers.N...", "norm.weight" without the causal-LM
// wrapper's "model." prefix. Architectures bind the wrapped names, so the
// prefix is added here; names that already have it (or another root, such as
// "lm_head.weight") are left alone.
void add_model_prefix_if_bare(std::map<std::string, RawTensor>& tensors) {
  if (!tensors.contains("embed_tokens.weight") || tensors.contains("model.embed_tokens.weight")) return;
  std::map<std::string, RawTensor> renamed;
  for (auto& [name, raw] : tensors) {
    const bool bare = name == "embed_tokens.weight" || name == "norm.weight" || name.starts_with("layers.");
    std::string key = bare ? "model." + name : name;
    raw.tensor.name = key;
    const std::string file = raw.file;
    if (!renamed.emplace(key, std::move(raw)).second)
      throw ModelLoadError(file + ": tensor '" + name + "' is stored both with and without the 'model.' prefix");
  }
  tensors.swap(renamed);
}

std::string float_dtype_of(const std::map<std::string, RawTensor>& tensors, const json& cfg) {
  std::map<DType, uint64_t> bytes;
  for (const auto& [_, raw] : tensors) {
    DType t = raw.tensor.dtype;
    if (t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64) bytes[t] += raw.tensor.nbytes;
  }
  const std::pair<const DType, uint64_t>* best = nullptr;
  for (const auto& kv : bytes)
    if (!best || kv.second > best->second) best = &kv;
  if (best) return torch_dtype_name(best->first);
  auto declared = cfg.find("torch_dtype");
  return declared != cfg.end() && declared->is_string() ? declared->get<std::string>() : "";
}

std::optional<std::string> chat_template_of(const fs::path& dir, const json* tokenizer_config) {
  if (fs::is_regular_file(dir / "chat_template.jinja")) return read_text(dir / "chat_template.jinja");
  if (tokenizer_config) {
    auto it = tokenizer_config->find("chat_template");
    if (it != tokenizer_config->end()) {
      if (it->is_string()) return it->get<std::string>();
      // A list of named templates: take "default" (else the first).
      if (it->is_array()) {
        const json* first = nullptr;
        for (const auto& t : *it) {
          if (!t.is_object() || !t.contains("template") || !t["template"].is_string()) continue;
          if (!first) first = &t;
          if (t.contains("name") && t["name"] == "default") return t["template"].get<std::string>();
        }
        if (first) return (*first)["template"].get<std::string>();
      }
    }
  }
  if (fs::is_regular_file(dir / "chat_template.json")) {
    json j = read_json(dir / "chat_template.json");
    if (j.is_object() && j.contains("chat_template") && j["chat_template"].is_string())
      return j["chat_template"].get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

namespace {

Checkpoint load_checkpoint_directory(const fs::path& dir, const std::optional<fs::path>& only_file) {
  const fs::path config_file = dir / "config.json";
  if (!fs::is_regular_file(config_file))
    throw ModelLoadError(dir.string() + ": no config.json (not a Hugging Face-style model directory)");
  Checkpoint ck;
  ck.source = only_file ? *only_file : dir;
  ck.config = read_config_file(config_file);
  ck.model_type = detect_model_type(ck.config, dir);
  if (ck.model_type.empty())
    throw ModelLoadError(config_file.string() + ": cannot tell the architecture: no \"model_type\", no known "
                         "\"architectures\" entry, and the directory name does not name one");
  ck.config["model_type"] = ck.model_type;

  json weight_map = json::object();
  std::vector<fs::path> files = only_file ? std::vector<fs::path>{*only_file} : weight_files(dir, &weight_map);

  auto store = std::make_shared<MappedWeightStore>(ck.source.string());
  std::map<std::string, RawTensor> tensors;
  for (const auto& f : files) {
    SafetensorsFile st = SafetensorsFile::open(f);
    store->keep(st.mapping());
    for (const auto& t : st.tensors()) {
      auto [it, fresh] = tensors.emplace(t.name, RawTensor{t, f.string()});
      if (!fresh)
        throw ModelLoadError(f.string() + ": tensor '" + t.name + "' is also in " + it->second.file);
    }
  }
  for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
    auto t = tensors.find(it.key());
    const std::string want = (dir / it->get<std::string>()).string();
    if (t == tensors.end())
      throw ModelLoadError((dir / "model.safetensors.index.json").string() + ": tensor '" + it.key() +
                           "' is listed in " + it->get<std::string>() + " but no shard holds it");
    if (t->second.file != want)
      throw ModelLoadError((dir / "model.safetensors.index.json").string() + ": tensor '" + it.key() + "' is listed in " +
                           it->get<std::string>() + " but stored in " + t->second.file);
  }

  add_model_prefix_if_bare(tensors);
  const MlxQuantConfig quant = parse_mlx_quantization(ck.config, config_file.string());
  merge_mlx_quantized(tensors, quant, config_file.string());
  if (quant.enabled) ck.quantization = {quant.mode, quant.defaults.bits, quant.defaults.group_size};

  expect_shape(tensors, ck.config, "embed_tokens.weight", {"vocab_size", "hidden_size"}, config_file.string());
  expect_shape(tensors, ck.config, "lm_head.weight", {"vocab_size", "hidden_size"}, config_file.string());
  expect_shape(tensors, ck.config, "model.norm.weight", {"hidden_size"}, config_file.string());

  ck.dtype = float_dtype_of(tensors, ck.config);
  for (auto& [_, raw] : tensors) store->add(std::move(raw.tensor));
  ck.weights = store;

  ck.generation = read_generation_defaults(dir, ck.config);
  if (fs::is_regular_file(dir / "tokenizer.json")) ck.tokenizer_json = dir / "tokenizer.json";
  json tokenizer_config;
  if (fs::is_regular_file(dir / "tokenizer_config.json")) {
    ck.tokenizer_config_json = dir / "tokenizer_config.json";
    tokenizer_config = read_json(*ck.tokenizer_config_json);
  }
  ck.chat_template = chat_template_of(dir, tokenizer_config.is_object() ? &tokenizer_config : nullptr);
  return ck;
}

}  // namespace

}  // namespace allm::detail

namespace allm {

Checkpoint load_safetensors_checkpoint(const std::filesystem::path& dir,
                                       const std::optional<std::filesystem::path>& only_file) {
  try {
    return detail::load_checkpoint_directory(dir, only_file);
  } catch (const nlohmann::json::exception& e) {
    // A config value of an unexpected JSON type somewhere the checks above
    // did not anticipate: still a load error naming the model.
    throw ModelLoadError(dir.string() + ": unexpected value in the checkpoint's JSON files: " + e.what());
  }
}

}  // namespace allm
