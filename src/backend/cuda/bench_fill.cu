#include "backend/cuda/runtime.h"
#include "backend/cuda/bench_fill.h"

namespace mmfree::cuda::bench {
namespace {

__device__ uint32_t mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return static_cast<uint32_t>(x ^ (x >> 31));
}

template <class F>
__global__ void fill_kernel(int64_t count, F f) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    f(i);
}

template <class F>
void fill(int64_t count, F f, cudaStream_t s) {
  fill_kernel<<<1024, 256, 0, s>>>(count, f);
  check_launch("bench fill");
}

}  // namespace

void fill_codes(uint8_t* p, int64_t bytes, uint32_t seed, cudaStream_t s) {
  fill(bytes, [=] __device__(int64_t i) {
    const uint32_t r = mix((uint64_t{seed} << 40) ^ static_cast<uint64_t>(i));
    uint8_t b = 0;
    for (int l = 0; l < 4; ++l) b |= static_cast<uint8_t>(((r >> (8 * l)) & 0xff) % 3) << (2 * l);
    p[i] = b;
  }, s);
}

void fill_int8(int8_t* p, int64_t count, uint32_t seed, cudaStream_t s) {
  fill(count, [=] __device__(int64_t i) { p[i] = static_cast<int8_t>(mix((uint64_t{seed} << 40) ^ static_cast<uint64_t>(i))); }, s);
}

void fill_floats(float* p, int64_t count, uint32_t seed, float center, float spread, cudaStream_t s) {
  fill(count, [=] __device__(int64_t i) {
    const float u = static_cast<float>(mix((uint64_t{seed} << 40) ^ static_cast<uint64_t>(i)) >> 8) * (1.0f / 16777216.0f);
    p[i] = center + spread * (2.0f * u - 1.0f);
  }, s);
}

}  // namespace mmfree::cuda::bench
