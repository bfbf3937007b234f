#pragma once
// The models a server answers for: those named on the command line, plus
// models of the configured places (the Hugging Face cache, the Ollama and LM
// Studio stores) loaded on demand when a request names one
// (LRU-evicted beyond the limit). A request can never name an arbitrary
// filesystem path unless the server was started with --allow-any-model-path.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "allm/server/server.hpp"
#include "inference.hpp"

namespace allm::server {

class ModelRegistry {
 public:
  ModelRegistry(ProviderMaker make, bool allow_any_path, size_t max_loaded, size_t slots);

  // Loads a model named on the command line (pinned: never evicted).
  std::shared_ptr<ServedModel> load_pinned(const std::string& spec);
  // The model a request names; empty: the first model of the command line.
  // Accepts the id, the spec, and Ollama's "name:latest". Throws ApiError 404
  // for a name that is not served and cannot be loaded from the allowed places.
  std::shared_ptr<ServedModel> find(const std::string& name);
  // Unloads an on-demand model (Ollama keep_alive 0); false when pinned/absent.
  bool unload(const std::string& name);
  std::vector<std::shared_ptr<ServedModel>> list() const;

 private:
  std::shared_ptr<ServedModel> lookup(const std::string& name) const;  // mutex_ held
  std::shared_ptr<ServedModel> load(const std::string& spec, bool pinned);
  std::string unique_id(const std::string& spec) const;
  void evict_over_limit();  // mutex_ held

  ProviderMaker make_;
  bool allow_any_path_;
  size_t max_loaded_;
  size_t slots_;
  mutable std::mutex mutex_;
  std::mutex load_mutex_;  // one load at a time
  std::vector<std::shared_ptr<ServedModel>> models_;
};

}  // namespace allm::server
