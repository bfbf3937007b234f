#include "allm/registry.hpp"

namespace allm {

const char* component_kind_name(allm_component_kind kind) noexcept {
  switch (kind) {
    case ALLM_KIND_PROVIDER: return "provider";
    case ALLM_KIND_ARCHITECTURE: return "architecture";
    case ALLM_KIND_TOKENIZER: return "tokenizer";
    case ALLM_KIND_MEDIA_HANDLER: return "media_handler";
    case ALLM_KIND_BACKEND: return "backend";
    case ALLM_KIND_CHECKPOINT_LOADER: return "checkpoint_loader";
  }
  return "unknown";
}

std::optional<allm_component_kind> component_kind_from_name(const std::string& name) noexcept {
  for (auto k : {ALLM_KIND_PROVIDER, ALLM_KIND_ARCHITECTURE, ALLM_KIND_TOKENIZER, ALLM_KIND_MEDIA_HANDLER, ALLM_KIND_BACKEND,
                 ALLM_KIND_CHECKPOINT_LOADER})
    if (name == component_kind_name(k)) return k;
  return std::nullopt;
}

Registry& Registry::instance() {
  static Registry registry;
  return registry;
}

const ComponentEntry* Registry::add(ComponentEntry entry) {
  std::lock_guard lock(mutex_);
  for (auto& e : entries_)
    if (e.kind == entry.kind && e.name == entry.name) return &e;
  entries_.push_back(std::move(entry));
  return nullptr;
}

const ComponentEntry* Registry::find(allm_component_kind kind, const std::string& name) const {
  std::lock_guard lock(mutex_);
  for (auto& e : entries_)
    if (e.kind == kind && e.name == name) return &e;
  return nullptr;
}

std::vector<ComponentEntry> Registry::list(allm_component_kind kind) const {
  std::lock_guard lock(mutex_);
  std::vector<ComponentEntry> out;
  for (auto& e : entries_)
    if (e.kind == kind) out.push_back(e);
  return out;
}

std::vector<ComponentEntry> Registry::list() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

void Registry::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

bool Registry::remove(allm_component_kind kind, const std::string& name) {
  std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end(); ++it)
    if (it->kind == kind && it->name == name) {
      entries_.erase(it);
      return true;
    }
  return false;
}

template <class T>
static T* impl_of(const Registry& r, allm_component_kind kind, const std::string& name) {
  auto* e = r.find(kind, name);
  return e ? static_cast<T*>(e->impl) : nullptr;
}

ArchitectureFactory* Registry::architecture(const std::string& n) const {
  return impl_of<ArchitectureFactory>(*this, ALLM_KIND_ARCHITECTURE, n);
}
TokenizerFactory* Registry::tokenizer(const std::string& n) const {
  return impl_of<TokenizerFactory>(*this, ALLM_KIND_TOKENIZER, n);
}
ProviderFactory* Registry::provider(const std::string& n) const {
  return impl_of<ProviderFactory>(*this, ALLM_KIND_PROVIDER, n);
}
MediaHandler* Registry::media_handler(const std::string& n) const {
  return impl_of<MediaHandler>(*this, ALLM_KIND_MEDIA_HANDLER, n);
}
BackendFactory* Registry::backend(const std::string& n) const {
  return impl_of<BackendFactory>(*this, ALLM_KIND_BACKEND, n);
}
CheckpointLoader* Registry::checkpoint_loader(const std::string& n) const {
  return impl_of<CheckpointLoader>(*this, ALLM_KIND_CHECKPOINT_LOADER, n);
}

}  // namespace allm
