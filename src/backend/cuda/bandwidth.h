#pragma once
// The device's read bandwidth, measured as the decode kernels use memory: one streaming pass with
// 16-byte loads over a buffer several times the size of L2, folded into a word so that nothing is
// optimised away. Its GB/s is the roofline the ternary products are held against.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace mmfree::cuda {

// Reads bytes (a multiple of 16) at data (16-byte aligned) once; writes a fold of them to *sink.
void read_pass(const void* data, int64_t bytes, uint32_t* sink, cudaStream_t s);

struct ReadBandwidth {
  int64_t bytes = 0;  // read per pass
  double median_ms = 0, gbps = 0;  // gbps: bytes / median time, in 1e9 bytes per second
};

// Allocates `bytes` of device memory (filled with a non-zero pattern), runs `reps` timed passes
// after two warm-up passes, and reports the median. Throws Error when CUDA fails.
ReadBandwidth measure_read_bandwidth(int64_t bytes, int reps, cudaStream_t s);

}  // namespace mmfree::cuda
