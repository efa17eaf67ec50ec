#pragma once
// What the ternary product kernels (ternary_product.cu, product_tiled.cu) share: the tensor-core
// instruction, the decoding of the mma16 codes into its A fragments, the launch's arguments, and the
// warp path's output of its sums (the tiled kernel has its own epilogue, through shared memory).
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
};

// Stores a warp's sums of code * q in the mma accumulator layout: acc[rt][nt][c] is row
// row0 + 16 rt + g (+ 8 for c >= 2), token tok0 + 8 nt + 2 t (+ 1 for odd c); rows from `rows` on and
// tokens from n on are left out. Each token's sum of q, scale and row address are read and formed
// once for all of the thread's rows (the epilogue is a large part of a product of few columns).
template <int RT, int NT>
__device__ __forceinline__ void store_sums(const SumStore& out, const int (&acc)[RT][NT][4], int row0, int tok0, int rows,
                                          int n) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  auto each = [&](auto put) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int odd = 0; odd < 2; ++odd) {
        const int tok = tok0 + 8 * nt + 2 * t + odd;
        if (tok >= n) continue;
        const int32_t sum = __ldg(out.sums + tok);
        const int64_t base = static_cast<int64_t>(tok) * out.ld;
        const float denom = out.y ? __fmul_rn(__ldg(out.scale + tok), out.w_scale) : 0.0f;
#pragma unroll
        for (int rt = 0; rt < RT; ++rt)
#pragma unroll
          for (int hi = 0; hi < 2; ++hi) {
            const int row = row0 + 16 * rt + g + 8 * hi;
            if (row < rows) put(base + row, acc[rt][nt][2 * hi + odd] - sum, denom);
          }
      }
  };
  // The CPU's operations: float(v) / (s_x * s_w), each rounded to nearest.
  if (out.y) each([&](int64_t at, int32_t v, float denom) { out.y[at] = __fdiv_rn(__int2float_rn(v), denom); });
  else each([&](int64_t at, int32_t v, float) { out.acc[at] = v; });
}

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
