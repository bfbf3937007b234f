#pragma once
// Backend component interface (kind ALLM_KIND_BACKEND, plugin ABI 4.1): a
// factory for the compute backend every model runs on (allm::Backend, in
// allm/compute.hpp of the engine). The CPU backend is the `backend_cpu`
// plugin; a GPU backend plugin registers another. The engine asks every
// registered factory's probe() at model load and takes the highest score
// (`--backend NAME` / config `backend` force one); docs/engine.md says what a
// backend implements.
#include <memory>
#include <string>
#include <vector>

namespace allm {

class Backend;

// Whether a backend can run on this machine, asked at run time (a plugin
// loads on machines without its device and says so here).
struct BackendProbe {
  int score = 0;       // 0: unusable here; otherwise higher wins
  std::string reason;  // why unusable, or what it would run on ("NVIDIA H200, 139 GiB")
};

class BackendFactory {
 public:
  virtual ~BackendFactory() = default;
  virtual BackendProbe probe() const = 0;
  // A backend using `threads` host threads (0: physical cores). Called only
  // after a probe scored it above 0; throws (naming the cause) when it still
  // cannot start.
  virtual std::shared_ptr<Backend> create(int threads) const = 0;
};

// Every registered backend with its probe, best first (ties: by name).
struct BackendStatus {
  std::string name;
  BackendProbe probe;
  std::string plugin;
};
std::vector<BackendStatus> list_backends();

// The registered backend `name` (empty: the usable one with the highest
// score), created with `threads`. InvalidArgumentError naming the installed
// backends when `name` is not one of them, UnsupportedError with every
// backend's reason when it (or, for an empty name, every backend) is unusable.
// Null when no backend is registered at all and `name` is empty (the engine
// then uses its built-in CPU backend).
std::shared_ptr<Backend> create_backend(const std::string& name, int threads);

}  // namespace allm
