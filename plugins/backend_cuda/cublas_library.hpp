#pragma once
// cuBLAS, opened at run time (dlopen) rather than linked: the plugin keeps
// loading on machines with no CUDA libraries (it reports why it cannot run
// there), and a machine with a driver but no cuBLAS still decodes, prefill
// then taking the backend's own tiled GEMM. Only the few entry points the
// prefill GEMM uses are looked up.
#include <string>

#include <cublas_api.h>

namespace allm::cuda {

struct CublasLibrary {
  cublasStatus_t (*create)(cublasHandle_t*) = nullptr;
  cublasStatus_t (*destroy)(cublasHandle_t) = nullptr;
  cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t) = nullptr;
  cublasStatus_t (*set_workspace)(cublasHandle_t, void*, size_t) = nullptr;
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                            cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
};

// The process's cuBLAS (libcublas.so.<the CUDA major version built against>,
// then the toolkit's usual folders), or null with `why` saying what failed.
const CublasLibrary* cublas_library(std::string& why);

// Throws allm::Error naming `what` when a cuBLAS call failed.
void check_cublas(cublasStatus_t status, const char* what);

}  // namespace allm::cuda
