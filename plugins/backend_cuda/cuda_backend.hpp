#pragma once
// The CUDA backend: allm::Backend on one NVIDIA GPU (docs/cuda.md).
#include <memory>
#include <string>

#include "allm/compute.hpp"

namespace allm::cuda {

// Whether a CUDA device can be used here: "" when it can, else why not (no
// driver, no device, a device older than the kernels' target).
std::string unavailable_reason();
// One line about device `device`: name, memory, compute capability, driver.
std::string describe_device(int device = 0);
// A backend on device `device`; throws allm::Error with the reason when unavailable.
std::shared_ptr<Backend> make_cuda_backend(int device = 0);

}  // namespace allm::cuda
