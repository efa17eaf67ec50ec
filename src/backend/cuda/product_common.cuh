#pragma once
// What both ternary product kernels (ternary_product.cu, product_tiled.cu) share: the tensor-core
// instruction, the decoding of the mma16 codes into its A fragments, and the output of one sum.
#include <cstdint>

#include "backend/cuda/ternary_product.h"

namespace mmfree::cuda {

// c += A (16 x 32, int8, row) * B (32 x 8, int8, col), exact int32 sums.
__device__ __forceinline__ void mma_s8(int (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                       uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Register l of the A fragment from word kt of a lane's 16 bytes of a tile (mma_layout.h): codes 0..2.
__device__ __forceinline__ uint32_t a_fragment(uint32_t word, int l) { return (word >> (2 * l)) & 0x03030303u; }

// Where one product's sums go, and the per-token values its epilogue needs.
struct SumStore {
  const int32_t* sums;  // the tokens' sums of q (the codes are weight + 1)
  const float* scale;   // s_x per token (y outputs only)
  int32_t* acc;         // int32 sums, or
  float* y;             // BitLinear's scaled output
  int64_t ld;
  float w_scale;

  // code_sum: the sum of code * q for (row, tok).
  __device__ __forceinline__ void put(int row, int tok, int32_t code_sum) const {
    const int32_t v = code_sum - sums[tok];
    const int64_t at = static_cast<int64_t>(tok) * ld + row;
    // The CPU's operations: float(v) / (s_x * s_w), each rounded to nearest.
    if (y) y[at] = __fdiv_rn(__int2float_rn(v), __fmul_rn(scale[tok], w_scale));
    else acc[at] = v;
  }
};

// One product of a launch, as the kernels read it.
struct KernelProduct {
  const uint4* w;
  const int8_t* q;
  int64_t stride;
  SumStore out;
  int units;
  int rows, tiles;  // rows, and row tiles of 16
  int strip_begin;  // the launch's strips [strip_begin, strip_begin + ceil(tiles / strip tiles)) are this product's
};

struct KernelArgs {
  KernelProduct p[kMaxProducts];
  int count;
  int n, total_strips;
  int row_warps, k_warps;  // the warp path: warps of a block, row_warps strips x k_warps column slices
};

// The product that strip (of any kernel's strips) belongs to.
__device__ __forceinline__ KernelProduct product_of(const KernelArgs& a, int strip) {
  KernelProduct p = a.p[0];
#pragma unroll
  for (int i = 1; i < kMaxProducts; ++i)
    if (i < a.count && strip >= a.p[i].strip_begin) p = a.p[i];
  return p;
}

}  // namespace mmfree::cuda
