#pragma once
// Random device data for the benches (mmfree_cuda_bench, bench-kernel --device cuda); never zeros,
// which can time faster than real data.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace mmfree::cuda::bench {

// bytes of 2-bit codes, each code in {0, 1, 2} (weights -1, 0, 1).
void fill_codes(uint8_t* p, int64_t bytes, uint32_t seed, cudaStream_t s);
// int8 values in [-128, 127].
void fill_int8(int8_t* p, int64_t count, uint32_t seed, cudaStream_t s);
// floats uniform in [center - spread, center + spread].
void fill_floats(float* p, int64_t count, uint32_t seed, float center, float spread, cudaStream_t s);

}  // namespace mmfree::cuda::bench
