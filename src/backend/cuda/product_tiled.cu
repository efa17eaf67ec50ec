#include "backend/cuda/product_tiled.cuh"

#include <cstdint>
#include <string>

#include "backend/cuda/launch.cuh"
#include "backend/cuda/mma_layout.h"
#include "backend/cuda/runtime.h"

namespace mmfree::cuda {
namespace {

constexpr int kBlockTokens = 128;
constexpr int kThreads = 256;  // 8 warps: 2 along the rows (64 each) x 4 along the tokens (32 each)
constexpr int kRowWarps = 2, kWarpTiles = 4, kWarpGroups = 4;  // a warp's 16-row tiles and 8-token groups
constexpr int kStages = 4;
// A token's 128 bytes of a unit padded to 144: lane 4g + t reads 16 bytes at 144 g + 32 t, so the
// 8 lanes of each quarter-warp (g, g + 1) cover all 32 banks once.
constexpr int kPitch = kTileCols + 16;
constexpr int kActBytes = kBlockTokens * kPitch;
constexpr int kWeightBytes = kTiledBlockTiles * kTileBytes;
constexpr int kStageBytes = kActBytes + kWeightBytes;
constexpr int kSharedBytes = kStages * kStageBytes;
static_assert(kTiledBlockTiles == kRowWarps * kWarpTiles && kBlockTokens == (8 / kRowWarps) * 8 * kWarpGroups);
static_assert(kThreads == kTiledBlockTiles * 32 && kBlockTokens * kTileCols / 16 == 4 * kThreads);

// 16 bytes global -> shared, asynchronously; bytes = 0 fills zeros and reads nothing.
__device__ __forceinline__ void copy16(void* dst, const void* src, int bytes) {
  const uint32_t d = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(d), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void copy_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int Pending>
__device__ __forceinline__ void copy_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(Pending) : "memory");
}

// Block b: row block b % row_blocks (consecutive blocks share a token block's activations in L2),
// token block b / row_blocks. Each warp: 64 rows x 32 tokens, 64 mma per unit, its A fragments
// decoded once per unit and used for 4 token groups.
__global__ void __launch_bounds__(kThreads, 2) tiled_kernel(const __grid_constant__ KernelArgs a) {
  extern __shared__ __align__(16) uint8_t smem[];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;
  const int strip = static_cast<int>(blockIdx.x % static_cast<unsigned>(a.total_strips));
  const int tok0 = static_cast<int>(blockIdx.x / static_cast<unsigned>(a.total_strips)) * kBlockTokens;
  const KernelProduct p = product_of(a, strip);
  const int tile0 = (strip - p.strip_begin) * kTiledBlockTiles;
  pdl_allow_next();

  // Copies: thread tid takes 16 bytes of one tile's codes (tile tid / 32) and 16 bytes of 4 tokens'
  // rows (tokens tid / 8 + 32 i, chunk tid % 8). Past the last tile or token: zeros.
  const bool w_in = tile0 + warp < p.tiles;
  const uint8_t* w_src = reinterpret_cast<const uint8_t*>(p.w) +
                         static_cast<int64_t>(w_in ? tile0 + warp : 0) * p.units * kTileBytes + lane * 16;
  const int q_tok = tid >> 3, q_chunk = tid & 7;
  const int8_t* q_src = p.q + static_cast<int64_t>(min(tok0 + q_tok, a.n - 1)) * p.stride + q_chunk * 16;
  auto copy_weights = [&](int stage, int u) {
    copy16(smem + stage * kStageBytes + kActBytes + tid * 16, w_src + static_cast<int64_t>(u) * kTileBytes, w_in ? 16 : 0);
  };
  auto copy_acts = [&](int stage, int u) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int tok = q_tok + 32 * i;
      const bool in = tok0 + tok < a.n;
      copy16(smem + stage * kStageBytes + tok * kPitch + q_chunk * 16,
             q_src + (in ? static_cast<int64_t>(32 * i) * p.stride : 0) + u * kTileCols, in ? 16 : 0);
    }
  };
  // Weights are never written by a kernel: the first stages' are requested before waiting for the
  // kernel that writes the activations.
  const int units = p.units;
#pragma unroll
  for (int st = 0; st < kStages - 1; ++st)
    if (st < units) copy_weights(st, st);
  pdl_wait();
#pragma unroll
  for (int st = 0; st < kStages - 1; ++st) {
    if (st < units) copy_acts(st, st);
    copy_commit();
  }

  int acc[kWarpTiles][kWarpGroups][4];
#pragma unroll
  for (int rt = 0; rt < kWarpTiles; ++rt)
#pragma unroll
    for (int nt = 0; nt < kWarpGroups; ++nt)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[rt][nt][c] = 0;
  const int warp_row = warp / (8 / kRowWarps), warp_tok = warp % (8 / kRowWarps);
  for (int u = 0; u < units; ++u) {
    copy_wait<kStages - 2>();
    __syncthreads();  // unit u is in; every warp is done with unit u - 1, whose stage is refilled next
    const int next = u + kStages - 1;
    if (next < units) {
      copy_weights(next % kStages, next);
      copy_acts(next % kStages, next);
    }
    copy_commit();
    const uint8_t* stage = smem + (u % kStages) * kStageBytes;
    uint4 w[kWarpTiles];
#pragma unroll
    for (int rt = 0; rt < kWarpTiles; ++rt)
      w[rt] = *reinterpret_cast<const uint4*>(stage + kActBytes + ((warp_row * kWarpTiles + rt) * 32 + lane) * 16);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      uint4 b[kWarpGroups];  // k-steps 2 half and 2 half + 1 of each token group
#pragma unroll
      for (int nt = 0; nt < kWarpGroups; ++nt)
        b[nt] = *reinterpret_cast<const uint4*>(stage + (warp_tok * kWarpGroups * 8 + nt * 8 + g) * kPitch + 32 * t + 16 * half);
#pragma unroll
      for (int k2 = 0; k2 < 2; ++k2) {
        const int kt = 2 * half + k2;
#pragma unroll
        for (int rt = 0; rt < kWarpTiles; ++rt) {
          const uint32_t word = kt == 0 ? w[rt].x : kt == 1 ? w[rt].y : kt == 2 ? w[rt].z : w[rt].w;
          const uint32_t a0 = a_fragment(word, 0), a1 = a_fragment(word, 1), a2 = a_fragment(word, 2),
                         a3 = a_fragment(word, 3);
#pragma unroll
          for (int nt = 0; nt < kWarpGroups; ++nt)
            mma_s8(acc[rt][nt], a0, a1, a2, a3, k2 == 0 ? b[nt].x : b[nt].z, k2 == 0 ? b[nt].y : b[nt].w);
        }
      }
    }
  }
  copy_wait<0>();  // no copy outlives the block (the last groups are empty)

  store_sums<kWarpTiles, kWarpGroups>(p.out, acc, (tile0 + warp_row * kWarpTiles) * kTileRows,
                                      tok0 + warp_tok * kWarpGroups * 8, p.rows, a.n);
}

}  // namespace

void launch_tiled(const KernelArgs& a, cudaStream_t s) {
  const int64_t token_blocks = (static_cast<int64_t>(a.n) + kBlockTokens - 1) / kBlockTokens;
  const int64_t blocks = token_blocks * a.total_strips;
  if (blocks > int64_t{0x7fffffff})
    throw Error("internal: ternary_product: " + std::to_string(blocks) + " blocks of 128 rows x 128 tokens");
  static const bool raised = [] {
    check(cudaFuncSetAttribute(tiled_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes),
          "raise the shared memory limit");
    return true;
  }();
  (void)raised;
  launch_pdl("ternary product kernel (tiled)", tiled_kernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreads),
             kSharedBytes, s, a);
}

}  // namespace mmfree::cuda
