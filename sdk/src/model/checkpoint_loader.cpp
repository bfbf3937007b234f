// load_checkpoint(): dispatch to the registered checkpoint_loader components
// (plugins/loader_safetensors, plugins/loader_gguf, any other plugin's).
#include <algorithm>

#include "allm/checkpoint_loader.hpp"
#include "allm/error.hpp"
#include "allm/log.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"

namespace allm {

namespace fs = std::filesystem;

namespace {

// The registered loaders, highest score first (ties: in registration order).
std::vector<ComponentEntry> loaders() {
  std::vector<ComponentEntry> all = Registry::instance().list(ALLM_KIND_CHECKPOINT_LOADER);
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
  return all;
}

}  // namespace

std::vector<std::string> checkpoint_loader_names() {
  std::vector<std::string> out;
  for (const auto& l : loaders()) out.push_back(l.name);
  return out;
}

std::string torch_dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    case DType::F64: return "float64";
    case DType::I8: return "int8";
    case DType::U8: return "uint8";
    case DType::I16: return "int16";
    case DType::I32: return "int32";
    case DType::U32: return "uint32";
    case DType::I64: return "int64";
    case DType::BOOL: return "bool";
    default: return dtype_name(t);
  }
}

Checkpoint load_checkpoint(const fs::path& path) { return load_checkpoint(path, LoadOptions{}); }

Checkpoint load_checkpoint(const fs::path& path, const LoadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw ModelLoadError(path.string() + ": no such file or directory");
  if (options.context_length) check_memory(estimate_memory(path, *options.context_length), path.string());

  const std::vector<ComponentEntry> registered = loaders();
  for (const auto& l : registered) {
    const auto* loader = static_cast<const CheckpointLoader*>(l.impl);
    if (!loader->accepts(path)) continue;
    log().debug("loading {} with the '{}' checkpoint loader (plugin {}, {})", path.string(), l.name, l.plugin, l.path);
    return loader->load(path);
  }
  std::string known;
  for (const auto& l : registered) known += (known.empty() ? "" : ", ") + l.name + " (" + l.plugin + ")";
  if (known.empty()) known = "none: the loader plugins (loader_safetensors, loader_gguf) are not installed or did not "
                             "load; see allm plugins list";
  const bool directory = fs::is_directory(path, ec);
  if (directory || path.extension() == ".safetensors" || path.extension() == ".gguf")
    throw UnsupportedError(path.string() + ": no registered checkpoint loader reads " +
                           (directory ? std::string("a model directory")
                                      : "a " + path.extension().string() + " file") +
                           " (registered loaders: " + known + ")");
  throw UnsupportedError(path.string() + ": not a model directory, .safetensors file, or a format a registered "
                         "loader accepts (registered loaders: " + known + ")");
}

}  // namespace allm
