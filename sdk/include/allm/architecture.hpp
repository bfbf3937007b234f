#pragma once
// Architecture component interface: turns a loaded Checkpoint into a Model.
// Plugins register one ArchitectureFactory per `model_type` (kind
// ALLM_KIND_ARCHITECTURE); see docs/adding-an-architecture.md.
#include <memory>

#include "allm/checkpoint.hpp"
#include "allm/compute.hpp"
#include "allm/model.hpp"

namespace allm {

struct ModelOptions {
  int threads = 0;                   // 0: physical cores
  std::shared_ptr<Backend> backend;  // null: a CPU backend with `threads`
};

class ArchitectureFactory {
 public:
  virtual ~ArchitectureFactory() = default;
  // Validates names and shapes (ModelLoadError naming the tensor) and config
  // keys (ConfigError naming the key); the model keeps `ckpt.weights` alive.
  virtual std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const = 0;
};

}  // namespace allm
