#pragma once
// The component registry: kind -> name -> implementation, remembering which
// plugin (and file) each came from. It lives in liballm-sdk.so so the host and
// every plugin see the same one; plugins may look up each other's components
// (the `local` provider finds architectures and tokenizers here).
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "allm/plugin.h"

namespace allm {

class ArchitectureFactory;
class TokenizerFactory;
class ProviderFactory;
class MediaHandler;
class BackendFactory;
class CheckpointLoader;

const char* component_kind_name(allm_component_kind kind) noexcept;
std::optional<allm_component_kind> component_kind_from_name(const std::string& name) noexcept;

struct ComponentEntry {
  allm_component_kind kind;
  std::string name;
  int score = 0;
  void* impl = nullptr;
  std::string plugin;  // plugin name from its descriptor
  std::string path;    // file it was loaded from ("<builtin>" for host-registered ones)
};

class Registry {
 public:
  static Registry& instance();

  // Registers a component. If the name is already taken for that kind, nothing
  // changes and the existing entry is returned (the first registration wins).
  const ComponentEntry* add(ComponentEntry entry);

  const ComponentEntry* find(allm_component_kind kind, const std::string& name) const;
  std::vector<ComponentEntry> list(allm_component_kind kind) const;
  std::vector<ComponentEntry> list() const;
  void clear();  // tests only
  bool remove(allm_component_kind kind, const std::string& name);  // tests only

  ArchitectureFactory* architecture(const std::string& model_type) const;
  TokenizerFactory* tokenizer(const std::string& name) const;
  ProviderFactory* provider(const std::string& name) const;
  MediaHandler* media_handler(const std::string& name) const;
  BackendFactory* backend(const std::string& name) const;
  CheckpointLoader* checkpoint_loader(const std::string& name) const;

 private:
  mutable std::mutex mutex_;
  std::vector<ComponentEntry> entries_;
};

}  // namespace allm
