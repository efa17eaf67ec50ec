#pragma once
// The ternary product for many tokens: blocks of 128 rows x 128 tokens, the activations and the
// weights of each 128-column unit staged in shared memory by a cp.async pipeline.
#include <cuda_runtime_api.h>

#include "backend/cuda/product_common.cuh"

namespace mmfree::cuda {

constexpr int kTiledBlockTiles = 8;  // row tiles of 16 per block (its strip)

// a: the launch's products, strips of kTiledBlockTiles row tiles (k_warps, row_warps unused).
void launch_tiled(const KernelArgs& a, cudaStream_t s);

bool wgmma_available();
// groups: warpgroups per block (2 or 4), strips of 4 * groups row tiles.
void launch_wgmma(const KernelArgs& a, int groups, cudaStream_t s);

}  // namespace mmfree::cuda
