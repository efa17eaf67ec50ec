#include "backend/cuda/mma_relayout.h"

#include <algorithm>
#include <string>

#include "backend/cuda/mma_layout.h"
#include "backend/cuda/runtime.h"
#include "kernels/ternary_layout.h"

namespace mmfree::cuda {
namespace {

// One thread per 32-bit word of the mma16 layout: the 16 codes that word holds (mma_layout.h),
// each read from its TQ2_0_R8 block (ternary_layout.h). Rows past the matrix get code 0.
__global__ void relayout_kernel(const uint8_t* __restrict__ src, int64_t rows, int64_t cols, uint32_t* __restrict__ dst,
                                int64_t words) {
  const int64_t units = cols / kTileCols, blocks = cols / layout::kBlockWeights;
  for (int64_t w = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; w < words;
       w += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int kt = static_cast<int>(w & 3), lane = static_cast<int>((w >> 2) & 31);
    const int64_t tile = w >> 7, u = tile % units, tile_row = tile / units;
    const int g = lane >> 2, t = lane & 3;
    uint32_t word = 0;
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int64_t r = tile_row * kTileRows + g + 8 * (l & 1);
      if (r >= rows) continue;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t c = u * kTileCols + 32 * t + 8 * kt + 4 * (l >> 1) + j;
        const int e = static_cast<int>(c % layout::kBlockWeights);  // element e of block c / 256: qs[s], plane p
        const int s = (e / 128) * 32 + e % 32, p = (e % 128) / 32;
        const uint8_t byte = src[layout::r8_block_offset(r, c / layout::kBlockWeights, rows, blocks) + s];
        word |= static_cast<uint32_t>((byte >> (2 * p)) & 3) << (8 * j + 2 * l);
      }
    }
    dst[w] = word;
  }
}

}  // namespace

void relayout_tq2_r8(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst, cudaStream_t s) {
  const int64_t bytes = mma_bytes(rows, cols);  // validates rows and cols
  if (cols % layout::kBlockWeights != 0 || !src || !dst || reinterpret_cast<uintptr_t>(dst) % 16 != 0)
    throw Error("cuda: cannot rearrange a " + std::to_string(rows) + " x " + std::to_string(cols) +
                " TQ2_0_R8 matrix (needs columns in whole blocks of 256 and an aligned destination)");
  const int64_t words = bytes / 4;
  const int64_t grid = std::min<int64_t>((words + 255) / 256, 65535);
  relayout_kernel<<<static_cast<unsigned>(grid), 256, 0, s>>>(src, rows, cols, reinterpret_cast<uint32_t*>(dst), words);
  check_launch("relayout_kernel");
}

}  // namespace mmfree::cuda
