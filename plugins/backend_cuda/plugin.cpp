// The CUDA backend plugin: registers backend "cuda". It loads on every
// machine (the CUDA runtime is linked in statically; only the driver's
// libcuda is needed at run time) and its probe says whether a device is
// usable here: above the CPU backend's score when one is, 0 and the reason
// (no driver, no device, an older GPU) when not, so the CPU backend is used.
#include "allm/backend.hpp"
#include "allm/plugin.hpp"
#include "cuda_backend.hpp"

namespace {

constexpr int kScore = 200;

class CudaBackendFactory final : public allm::BackendFactory {
 public:
  allm::BackendProbe probe() const override {
    const std::string why = allm::cuda::unavailable_reason();
    if (!why.empty()) return {0, why};
    return {kScore, allm::cuda::describe_device(0)};
  }
  std::shared_ptr<allm::Backend> create(int /*threads: the GPU does the work*/) const override {
    return allm::cuda::make_cuda_backend(0);
  }
};

CudaBackendFactory factory;
const allm::Component components[] = {allm::backend_component("cuda", kScore, factory)};

}  // namespace

ALLM_DEFINE_PLUGIN("backend-cuda", "1.0.0", "CUDA backend (NVIDIA GPUs of compute capability 9.0 and later)",
                   components)
