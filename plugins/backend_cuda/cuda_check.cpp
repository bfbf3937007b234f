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

int multiprocessors() {
  static const int count = [] {
    int device = 0, sms = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms <= 0) {
      cudaGetLastError();
      return 132;
    }
    return sms;
  }();
  return count;
}

namespace {
// ALLM_CUDA_PDL, read once: unset / 1 every decode kernel, "gemv" the GEMVs alone, 0 none.
enum class PdlMode { all, gemv, none };
PdlMode pdl_mode() {
  static const PdlMode mode = [] {
    const char* v = std::getenv("ALLM_CUDA_PDL");
    if (v && std::strcmp(v, "0") == 0) return PdlMode::none;
    if (v && std::strcmp(v, "gemv") == 0) return PdlMode::gemv;
    return PdlMode::all;
  }();
  return mode;
}
}  // namespace

bool pdl_enabled() { return pdl_mode() != PdlMode::none; }

bool pdl_chain_enabled() { return pdl_mode() == PdlMode::all; }

}  // namespace allm::cuda
