// load_checkpoint(): dispatch to a registered loader (GGUF, ...) or the
// built-in safetensors directory loader.
#include <mutex>

#include "allm/error.hpp"
#include "allm/log.hpp"
#include "allm/model_loader.hpp"
#include "safetensors_checkpoint.hpp"

namespace allm {

namespace fs = std::filesystem;

namespace {

struct LoaderEntry {
  std::string name;
  CheckpointPredicate accepts;
  CheckpointLoaderFn load;
};

std::mutex& loaders_mutex() {
  static std::mutex m;
  return m;
}
std::vector<LoaderEntry>& loaders() {
  static std::vector<LoaderEntry> v;
  return v;
}

std::optional<LoaderEntry> loader_for(const fs::path& path) {
  std::lock_guard lock(loaders_mutex());
  for (const auto& l : loaders())
    if (l.accepts(path)) return l;
  return std::nullopt;
}

}  // namespace

void register_checkpoint_loader(const std::string& name, CheckpointPredicate accepts, CheckpointLoaderFn load) {
  if (!accepts || !load) throw InvalidArgumentError("register_checkpoint_loader('" + name + "'): empty function");
  std::lock_guard lock(loaders_mutex());
  for (auto& l : loaders()) {
    if (l.name == name) {
      l.accepts = std::move(accepts);
      l.load = std::move(load);
      return;
    }
  }
  loaders().push_back({name, std::move(accepts), std::move(load)});
}

std::vector<std::string> checkpoint_loader_names() {
  std::lock_guard lock(loaders_mutex());
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

  if (auto l = loader_for(path)) {
    log().debug("loading {} with the '{}' checkpoint loader", path.string(), l->name);
    return l->load(path);
  }
  if (fs::is_directory(path)) return detail::load_safetensors_checkpoint(path);
  if (path.extension() == ".safetensors") {
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    return detail::load_safetensors_checkpoint(dir, path);
  }
  std::string known;
  for (const auto& n : checkpoint_loader_names()) known += (known.empty() ? "" : ", ") + n;
  if (path.extension() == ".gguf")
    throw UnsupportedError(path.string() + ": no loader for GGUF files is registered (registered loaders: " +
                           (known.empty() ? std::string("none") : known) + ")");
  throw UnsupportedError(path.string() + ": not a model directory, .safetensors file, or a format a registered "
                         "loader accepts (registered loaders: " + (known.empty() ? std::string("none") : known) + ")");
}

}  // namespace allm
