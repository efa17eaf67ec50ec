#pragma once
// The ternary product for many tokens (src/backend/cuda/sm90a/product_tiled.cu): blocks of 128 rows
// x 128 tokens, each 128-column unit of activations and weights staged in shared memory by a
// cp.async pipeline, multiplied by wgmma (Hopper, sm_90a); the sums leave through shared memory,
// a token's rows in 16-byte stores, scaled without a division (scaled_quotient.h).
#include <cuda_runtime_api.h>

#include "backend/cuda/product_common.cuh"

namespace mmfree::cuda {

constexpr int kTiledBlockTiles = 8;  // row tiles of 16 per block (its strip)

// a: the launch's products in strips of kTiledBlockTiles row tiles (k_warps, row_warps unused).
// Only where tiled_product_available() (ternary_product.h).
void launch_tiled(const KernelArgs& a, cudaStream_t s);

}  // namespace mmfree::cuda
