#pragma once
// Programmatic dependent launch (Hopper): a decode step is hundreds of short
// kernels in a row, each waiting for the one before to finish and the next to
// launch. The GEMVs read mostly weights, which no kernel writes, so a GEMV is
// launched as a dependent of the kernel before it: its blocks start while that
// kernel still runs, issue their weight loads, and only then wait
// (pdl_wait) for the earlier kernels' results. Every kernel calls
// pdl_trigger() on entry so that the launch of its dependent can begin
// at once; pdl_wait() returns when every earlier kernel has finished and its
// writes are visible, so a dependent may touch nothing but weights before it.
// Kernels launched the ordinary way ignore both.
//
// The decode path's other kernels (norms, rope, KV append, attention,
// activations, quantisation, embedding) are launched as dependents too and
// begin with pdl_enter(): their launch and block scheduling overlap the
// kernel before, and they trigger only once that one has finished, so the
// chain of early launches runs at most one kernel ahead (blocks waiting for
// their turn would otherwise take the places of the running kernel's).
#include <cuda_runtime.h>

#include <utility>

namespace allm::cuda {

__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
// The first statement of a dependent kernel that reads nothing but its
// inputs: wait for the kernels before it, then let the next one launch.
__device__ __forceinline__ void pdl_enter() {
  pdl_wait();
  pdl_trigger();
}

// Whether GEMVs are launched as dependents (ALLM_CUDA_PDL=0 turns it off,
// for measurements), and whether the other decode kernels are too
// (launch_chained; ALLM_CUDA_PDL=0 or =gemv turns that off).
bool pdl_enabled();
bool pdl_chain_enabled();

// kernel<<<grid, block, 0, stream>>>(args...), as a programmatic dependent
// of the stream's previous kernel when `as_dependent`.
template <class... Params, class... Args>
void launch_programmatic(bool as_dependent, void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream,
                         Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = 0;
  config.stream = stream;
  cudaLaunchAttribute attribute[1];
  attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute[0].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attribute;
  config.numAttrs = as_dependent ? 1 : 0;
  cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
}

// A GEMV as a dependent when pdl_enabled(). The kernel must call pdl_wait()
// before it reads or writes anything but weights.
template <class... Params, class... Args>
void launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream, Args&&... args) {
  launch_programmatic(pdl_enabled(), kernel, grid, block, stream, std::forward<Args>(args)...);
}

// A kernel that begins with pdl_enter() (norms, rope, KV append, attention,
// activations, quantisation) as a dependent when pdl_chain_enabled().
template <class... Params, class... Args>
void launch_chained(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream, Args&&... args) {
  launch_programmatic(pdl_chain_enabled(), kernel, grid, block, stream, std::forward<Args>(args)...);
}

}  // namespace allm::cuda
