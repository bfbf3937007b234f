// CUDA errors as allm errors: an out-of-memory as OutOfMemoryError, anything
// else as an internal error naming the call and CUDA's own message.
#include <string>

#include "allm/error.hpp"
#include "kernels.hpp"

namespace allm::cuda {

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  const std::string message = std::string("CUDA: ") + what + ": " + cudaGetErrorString(status);
  if (status == cudaErrorMemoryAllocation) throw OutOfMemoryError(message);
  throw Error(ErrorCode::internal, message);
}

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace allm::cuda
