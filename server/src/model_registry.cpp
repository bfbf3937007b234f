#include "model_registry.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "allm/error.hpp"
#include "allm/log.hpp"
#include "allm/model_loader.hpp"
#include "api_error.hpp"

namespace allm::server {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What a user would call the model: a repo id as is, a path by its last part.
std::string base_id(const std::string& spec) {
  std::filesystem::path p(spec);
  if (!std::filesystem::exists(p)) return spec;  // a Hugging Face repo id
  p = p.lexically_normal();
  std::string name = (p.has_filename() ? p.filename() : p.parent_path().filename()).string();
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) name.resize(name.size() - 5);
  return name.empty() ? spec : name;
}

std::string strip_latest(const std::string& name) {
  const std::string tag = ":latest";
  if (name.size() > tag.size() && name.compare(name.size() - tag.size(), tag.size(), tag) == 0)
    return name.substr(0, name.size() - tag.size());
  return name;
}

}  // namespace

ModelRegistry::ModelRegistry(ProviderMaker make, bool allow_any_path, size_t max_loaded, size_t slots)
    : make_(std::move(make)),
      allow_any_path_(allow_any_path),
      max_loaded_(std::max<size_t>(1, max_loaded)),
      slots_(std::max<size_t>(1, slots)) {}

std::string ModelRegistry::unique_id(const std::string& spec) const {
  const std::string base = base_id(spec);
  std::string id = base;
  for (int n = 2; lookup(id); ++n) id = base + "-" + std::to_string(n);
  return id;
}

std::shared_ptr<ServedModel> ModelRegistry::load(const std::string& spec, bool pinned) {
  auto m = std::make_shared<ServedModel>();
  m->spec = spec;
  for (size_t i = 0; i < slots_; ++i) m->slots.push_back({make_(spec, false), make_(spec, true)});
  m->chat = m->slots[0].chat;
  m->raw = m->slots[0].raw;
  m->caps = m->chat->capabilities();
  m->pinned = pinned;
  m->last_used_ms = now_ms();
  std::lock_guard lock(mutex_);
  m->id = unique_id(spec);
  models_.push_back(m);
  evict_over_limit();
  return m;
}

std::shared_ptr<ServedModel> ModelRegistry::load_pinned(const std::string& spec) {
  std::lock_guard load_lock(load_mutex_);
  return load(spec, true);
}

std::shared_ptr<ServedModel> ModelRegistry::lookup(const std::string& name) const {
  const std::string bare = strip_latest(name);
  for (auto& m : models_)
    if (m->id == name || m->id == bare || m->spec == name || m->spec == bare) return m;
  return nullptr;
}

std::shared_ptr<ServedModel> ModelRegistry::find(const std::string& name) {
  {
    std::lock_guard lock(mutex_);
    if (name.empty()) {
      if (models_.empty()) throw ApiError(404, "not_found", "no model is loaded; name one in 'model'", "model");
      for (auto& m : models_)
        if (m->pinned) {
          m->last_used_ms = now_ms();
          return m;
        }
      return models_.front();
    }
    if (auto m = lookup(name)) {
      m->last_used_ms = now_ms();
      return m;
    }
  }
  // Not loaded: only from the configured places (the Hugging Face cache),
  // unless any path is allowed.
  const std::string spec = strip_latest(name);
  ResolvedModel resolved;
  try {
    resolved = resolve_model(spec);
  } catch (const Error&) {
    throw ApiError(404, "not_found", "the model '" + name + "' does not exist or is not served here", "model");
  }
  const bool configured_place = resolved.kind == "hf-cache" || resolved.kind == "ollama" || resolved.kind == "lmstudio";
  if (!configured_place && !allow_any_path_)
    throw ApiError(404, "not_found",
                   "the model '" + name +
                       "' is not served here: requests may name the server's models or models of the Hugging Face "
                       "cache and the Ollama/LM Studio stores, "
                       "not filesystem paths (start the server with it, or with --allow-any-model-path)",
                   "model");
  std::lock_guard load_lock(load_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (auto m = lookup(name)) return m;  // loaded meanwhile
  }
  log().info("loading {} on demand", spec);
  return load(spec, false);
}

bool ModelRegistry::unload(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto m = lookup(name);
  if (!m || m->pinned) return false;
  models_.erase(std::remove(models_.begin(), models_.end(), m), models_.end());
  return true;
}

void ModelRegistry::evict_over_limit() {
  while (models_.size() > max_loaded_) {
    std::shared_ptr<ServedModel> oldest;
    for (auto& m : models_)
      if (!m->pinned && m->in_use.load() == 0 && (!oldest || m->last_used_ms < oldest->last_used_ms)) oldest = m;
    if (!oldest) return;  // everything is pinned or busy
    log().info("unloading {} (least recently used)", oldest->id);
    models_.erase(std::remove(models_.begin(), models_.end(), oldest), models_.end());
  }
}

std::vector<std::shared_ptr<ServedModel>> ModelRegistry::list() const {
  std::lock_guard lock(mutex_);
  return models_;
}

}  // namespace allm::server
