#pragma once
// Kernel launches with programmatic dependent launch (Hopper): a kernel may start while the one
// before it on the stream is still running, so its launch latency and its reads of data that no
// kernel writes (the weights) overlap the previous kernel. Every kernel launched this way calls
// pdl_wait() before it reads anything an earlier kernel writes and before its first global write,
// and pdl_allow_next() as soon as it has started, letting the next kernel be scheduled.
#include <cuda_runtime.h>

#include <utility>

#include "backend/cuda/runtime.h"

namespace mmfree::cuda {

__device__ __forceinline__ void pdl_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void pdl_allow_next() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }

// MMFREE_CUDA_NO_PDL=1 launches every kernel fully ordered (a check that a result does not depend
// on the overlap; griddepcontrol is then a no-op).
bool pdl_enabled();

template <class... Params, class... Args>
void launch_pdl(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared, cudaStream_t s,
                Args&&... args) {
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = shared;
  cfg.stream = s;
  cfg.attrs = attr;
  cfg.numAttrs = pdl_enabled() ? 1 : 0;
  check(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...), name);
}

}  // namespace mmfree::cuda
