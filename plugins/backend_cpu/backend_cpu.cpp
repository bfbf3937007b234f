// The CPU backend as a component (kind backend): usable on every machine, with
// a low score so that any usable device backend is preferred.
#include <string>

#include "allm/backend.hpp"
#include "allm/compute.hpp"
#include "allm/plugin.hpp"
#include "allm/threadpool.hpp"

namespace allm {
namespace {

constexpr int kCpuScore = 10;

class CpuBackendFactory final : public BackendFactory {
 public:
  BackendProbe probe() const override {
    return {kCpuScore, std::string(cpu_kernel_name()) + " kernels, " + std::to_string(ThreadPool::physical_cores()) +
                           " physical cores"};
  }
  std::shared_ptr<Backend> create(int threads) const override { return make_cpu_backend(threads); }
};

CpuBackendFactory factory;
const Component components[] = {backend_component("cpu", kCpuScore, factory)};

}  // namespace
}  // namespace allm

ALLM_DEFINE_PLUGIN("backend-cpu", "1.0.0", "CPU compute backend (SIMD kernels, thread pool)", allm::components)
