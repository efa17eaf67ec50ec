#pragma once
// What the kernels that give a row to one warp or a few (row_kernel_many.cu's quantising pass,
// train_kernels.cu's rmsnorm_backward) share: 16-byte loads and stores of 4 consecutive floats (which
// elementwise.cu's row kernel of few rows takes too), and a reduction over the row's warps by
// shuffles, without a block-wide barrier.
#include <cuda_runtime.h>

namespace mmfree::cuda {

__device__ __forceinline__ void load4(const float* p, float (&v)[4]) {
  const float4 q = *reinterpret_cast<const float4*>(p);
  v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
}
// Weights: read-only for the whole kernel, shared by every row of the launch.
__device__ __forceinline__ void load4_weights(const float* p, float (&v)[4]) {
  const float4 q = __ldg(reinterpret_cast<const float4*>(p));
  v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
}
__device__ __forceinline__ void store4(float* p, const float (&v)[4]) {
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}

// Every thread of the row's W warps (warps W r .. W r + W - 1 of the block) gets op over their v[j],
// j < N. In a warp by a butterfly of shuffles, after which every lane holds the same value (op is
// commutative, so both lanes of a pair compute the same bits); then (W > 1) warps 0..W-1 of the row
// in that order, through scratch (N values for each warp of the block) and one named barrier of the
// row's warps. A warp may write scratch again only once every warp of its row has read it: after
// the row's next barrier on another scratch array, say.
template <int W, int N, class T, class Op>
__device__ __forceinline__ void row_reduce(T (&v)[N], Op op, T* scratch) {
#pragma unroll
  for (int j = 0; j < N; ++j)
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v[j] = op(v[j], __shfl_xor_sync(0xffffffffu, v[j], o));
  if constexpr (W > 1) {
    const int warp = threadIdx.x / 32, first = warp / W * W;
    if (threadIdx.x % 32 == 0)
#pragma unroll
      for (int j = 0; j < N; ++j) scratch[warp * N + j] = v[j];
    asm volatile("bar.sync %0, %1;" ::"r"(1 + warp / W), "r"(32 * W) : "memory");  // the row's warps only
#pragma unroll
    for (int j = 0; j < N; ++j) {
      T r = scratch[first * N + j];
#pragma unroll
      for (int w = 1; w < W; ++w) r = op(r, scratch[(first + w) * N + j]);
      v[j] = r;
    }
  }
}

}  // namespace mmfree::cuda
