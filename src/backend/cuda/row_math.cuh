#pragma once
// Device arithmetic shared by the kernels that quantise a row (elementwise.cu) and the product that
// quantises its own input (ternary_product.cu): the CPU's float operations, block-wide reductions in
// a fixed order.
#include <cuda_runtime.h>

namespace mmfree::cuda {

// The CPU's sigmoidf and siluf (model/ops.h) with IEEE division; expf is within 2 ulp of std::exp.
__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float silu_f(float x) { return x / (1.0f + expf(-x)); }

// Every thread of the block gets op over all threads' v[j] for each j < N, combined in one fixed
// order (so the result does not vary between runs or threads): each warp by shuffles, then every
// warp over the warps' results, taking lane 0's. One barrier; scratch (32 * N values) must not be
// used by another call in the same kernel.
template <int N, class T, class Op>
__device__ void block_reduce(T (&v)[N], Op op, T identity, T* scratch) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
#pragma unroll
  for (int j = 0; j < N; ++j)
    for (int o = 16; o > 0; o >>= 1) v[j] = op(v[j], __shfl_xor_sync(0xffffffffu, v[j], o));
  if (lane == 0)
#pragma unroll
    for (int j = 0; j < N; ++j) scratch[warp * N + j] = v[j];
  __syncthreads();
#pragma unroll
  for (int j = 0; j < N; ++j) {
    T r = lane < warps ? scratch[lane * N + j] : identity;
    for (int o = 16; o > 0; o >>= 1) r = op(r, __shfl_xor_sync(0xffffffffu, r, o));
    v[j] = __shfl_sync(0xffffffffu, r, 0);  // lanes may differ in the last bit of a double sum: take one
  }
}

struct DoubleSum {
  __device__ double operator()(double a, double b) const { return a + b; }
};
struct IntSum {
  __device__ int operator()(int a, int b) const { return a + b; }
};
struct FloatMax {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// 1 / sqrt(mean(x^2) + eps) from the block's partial sums of squares (in double, as model/ops.h).
__device__ inline float rstd_of(double partial, int k, float eps, double* scratch) {
  double ss[1] = {partial};
  block_reduce(ss, DoubleSum{}, 0.0, scratch);
  return 1.0f / sqrtf(static_cast<float>(ss[0] / static_cast<double>(k)) + eps);
}

// rmsnorm_quantize_ref's code of one value: u = m * rstd (the row's RMSNorm, eps 1e-6), then
// round(u * w * s) clamped to int8, s = 127 / max(amax, 1e-5).
__device__ __forceinline__ int quantize_code(float m, float rstd, float w, float s) {
  return static_cast<int>(fminf(fmaxf(roundf(m * rstd * w * s), -128.0f), 127.0f));
}

}  // namespace mmfree::cuda
