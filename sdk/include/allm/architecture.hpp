#pragma once
// Architecture component interface: turns a loaded Checkpoint into a Model.
// Plugins register one ArchitectureFactory per `model_type` (kind
// ALLM_KIND_ARCHITECTURE); see docs/adding-an-architecture.md.
#include <memory>
#include <string>

#include "allm/checkpoint.hpp"
#include "allm/compute.hpp"
#include "allm/model.hpp"

namespace allm {

struct ModelOptions {
  int threads = 0;                   // 0: physical cores
  std::shared_ptr<Backend> backend;  // null: load_model/build_model choose one (backend_name), else a CPU backend
  // The registered backend to use (allm/backend.hpp); empty: the usable one
  // with the highest score. Read by load_model/build_model (appended in ABI 4.1).
  std::string backend_name{};  // (braces: ModelOptions{threads, backend} stays complete)
  // Layers that run on the backend when it is a device (memory_domain() not
  // "host"): the first gpu_layers layers there, the rest, with the LM head,
  // on a CPU backend of `threads` threads (--gpu-layers; for models larger
  // than the device's memory). -1: every layer. Appended in ABI 4.3.
  int64_t gpu_layers = -1;
};

class ArchitectureFactory {
 public:
  virtual ~ArchitectureFactory() = default;
  // Validates names and shapes (ModelLoadError naming the tensor) and config
  // keys (ConfigError naming the key); the model keeps `ckpt.weights` alive.
  virtual std::unique_ptr<Model> create(const Checkpoint& ckpt, const ModelOptions& options) const = 0;
};

}  // namespace allm
