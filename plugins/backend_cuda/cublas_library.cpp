// Opens cuBLAS once per process (cublas_library.hpp says why at run time).
#include "cublas_library.hpp"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include <cuda_runtime_api.h>

#include "allm/error.hpp"

namespace allm::cuda {
namespace {

#define ALLM_STR2(x) #x
#define ALLM_STR(x) ALLM_STR2(x)
constexpr const char* kSoname = "libcublas.so." ALLM_STR(CUBLAS_VER_MAJOR);

struct Loaded {
  CublasLibrary lib;
  std::string why;
  bool ok = false;
};

template <class F>
bool find(void* so, const char* name, F& out, std::string& why) {
  out = reinterpret_cast<F>(dlsym(so, name));
  if (!out) why = std::string(kSoname) + " has no " + name;
  return out != nullptr;
}

Loaded open_library() {
  Loaded l;
  void* so = nullptr;
  std::string tried;
  for (const std::string& path : {std::string(kSoname), "/usr/local/cuda/lib64/" + std::string(kSoname),
                                 "/usr/local/cuda/targets/x86_64-linux/lib/" + std::string(kSoname)}) {
    so = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (so) break;
    const char* e = dlerror();
    tried += (tried.empty() ? "" : "; ") + std::string(e ? e : path.c_str());
  }
  if (!so) {
    l.why = "cannot open cuBLAS (" + tried + ")";
    return l;
  }
  CublasLibrary& c = l.lib;
  l.ok = find(so, "cublasCreate_v2", c.create, l.why) && find(so, "cublasDestroy_v2", c.destroy, l.why) &&
         find(so, "cublasSetStream_v2", c.set_stream, l.why) &&
         find(so, "cublasSetWorkspace_v2", c.set_workspace, l.why) && find(so, "cublasGemmEx", c.gemm_ex, l.why);
  return l;  // the library stays open for the process's life
}

}  // namespace

const CublasLibrary* cublas_library(std::string& why) {
  static const Loaded loaded = open_library();
  why = loaded.why;
  return loaded.ok ? &loaded.lib : nullptr;
}

void check_cublas(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const std::string message = std::string("cuBLAS: ") + what + " failed (status " + std::to_string(int(status)) + ")";
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw OutOfMemoryError(message);
  throw Error(ErrorCode::internal, message);
}

}  // namespace allm::cuda
