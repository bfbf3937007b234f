// CUDA errors as allm errors: an out-of-memory as OutOfMemoryError, anything
// else as an internal error naming the call and CUDA's own message.
#include <cstdlib>
#include <cstring>
#include <string>

#include "allm/error.hpp"
#include "kernels.hpp"
#include "pdl.cuh"

namespace allm::cuda {

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  const std::string message = std::string("CUDA: ") + what + ": " + cudaGetErrorString(status);
  if (status == cudaErrorMemoryAllocation) throw OutOfMemoryError(message);
  throw Error(ErrorCode::internal, message);
}

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

// ALLM_CUDA_PDL: unset / 1 every decode kernel, "gemv" the GEMVs alone, 0 none.
bool pdl_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("ALLM_CUDA_PDL");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return enabled;
}

bool pdl_chain_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("ALLM_CUDA_PDL");
    return !(v && (std::strcmp(v, "0") == 0 || std::strcmp(v, "gemv") == 0));
  }();
  return enabled;
}

}  // namespace allm::cuda
