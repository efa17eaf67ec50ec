#include "backend/cuda/product_tiled.cuh"

#include <cstdint>
#include <string>

#include "backend/cuda/launch.cuh"
#include "backend/cuda/mma_layout.h"
#include "backend/cuda/runtime.h"

// The tiled product on Hopper's warpgroup tensor-core instruction (wgmma, sm_90a): each warpgroup
// multiplies its 64 rows by the block's 128 tokens, the activations read by the tensor cores
// straight from shared memory, the weights decoded from their 2-bit codes into the A registers.
namespace mmfree::cuda {
namespace {

constexpr int kBlockTokens = 128;
constexpr int kGroups = kTiledBlockTiles / 4;  // warpgroups of a block, 4 row tiles (64 rows) each
constexpr int kThreads = 128 * kGroups;
constexpr int kStages = 4;
// A stage: one 128-column unit of the block's tokens (rows of 128 bytes, the 16-byte chunks of
// row r at chunk ^ (r % 8): the 128-byte swizzle that wgmma reads, 1024-byte aligned), then its
// tiles' codes, lane L's 16 bytes of a tile at chunk 8 (L % 4) + L / 4 (see decode below).
constexpr int kActBytes = kBlockTokens * kTileCols;
constexpr int kStageBytes = kActBytes + kTiledBlockTiles * kTileBytes;
constexpr int kSharedBytes = kStages * kStageBytes + 1024;  // + alignment of the first stage
static_assert(kStageBytes % 1024 == 0 && kTiledBlockTiles % 4 == 0);

__device__ __forceinline__ void copy16(uint32_t dst, const void* src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void copy_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int Pending>
__device__ __forceinline__ void copy_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(Pending) : "memory");
}
__device__ __forceinline__ uint32_t lds32(uint32_t addr) {
  uint32_t v;
  asm volatile("ld.shared.b32 %0, [%1];" : "=r"(v) : "r"(addr));
  return v;
}

// Shared-memory descriptor of a K-major operand with the 128-byte swizzle: 8-row groups 1024 bytes apart.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
  return static_cast<uint64_t>((addr & 0x3ffff) >> 4) | (static_cast<uint64_t>(1024 >> 4) << 32) | (uint64_t{1} << 62);
}

// d (64 rows x 128 tokens of this warpgroup) += A (registers) * B (descriptor), 32 columns.
__device__ __forceinline__ void wgmma_128(int (&d)[64], const uint32_t (&a)[4], uint64_t desc) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, {%64, %65, %66, %67}, %68, 1;"
      :
        "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]),
        "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]),
        "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]),
        "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]),
        "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]),
        "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]),
        "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]),
        "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc));
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int Pending>
__device__ __forceinline__ void wgmma_wait(int (&d)[64]) {
#pragma unroll
  for (int i = 0; i < 64; ++i) asm volatile("" : "+r"(d[i])::"memory");  // the sums are read only after the wait
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(Pending) : "memory");
#pragma unroll
  for (int i = 0; i < 64; ++i) asm volatile("" : "+r"(d[i])::"memory");
}

// Block b: row block b % total_strips (consecutive blocks share a token block's activations in
// L2), token block b / total_strips. Warp w of warpgroup G owns row tile 4G + w. Two blocks per SM:
// one's loads, barriers and epilogue overlap the other's wgmma (measured: 1.2x a block of 4
// warpgroups, one per SM, on the 370M training shapes).
__global__ void __launch_bounds__(kThreads, 2) tiled_kernel(const __grid_constant__ KernelArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ uint8_t smem_raw[];
  const uint32_t smem = (static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw)) + 1023) & ~1023u;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;
  const int strip = static_cast<int>(blockIdx.x % static_cast<unsigned>(a.total_strips));
  const int tok0 = static_cast<int>(blockIdx.x / static_cast<unsigned>(a.total_strips)) * kBlockTokens;
  const KernelProduct p = product_of(a, strip);
  const int tile0 = (strip - p.strip_begin) * kTiledBlockTiles;
  pdl_allow_next();

  // Copies: thread tid takes lane tid % 32's 16 bytes of tile tid / 32, and chunk tid % 8 of
  // tokens tid / 8 + 32 i. Past the last tile or token: zeros.
  const bool w_in = tile0 + warp < p.tiles;
  const uint8_t* w_src = reinterpret_cast<const uint8_t*>(p.w) +
                         static_cast<int64_t>(w_in ? tile0 + warp : 0) * p.units * kTileBytes + lane * 16;
  const uint32_t w_dst = kActBytes + warp * kTileBytes + (8 * (lane & 3) + (lane >> 2)) * 16;
  const int q_tok = tid >> 3, q_chunk = tid & 7;
  const int8_t* q_src = p.q + static_cast<int64_t>(min(tok0 + q_tok, a.n - 1)) * p.stride + q_chunk * 16;
  constexpr int kTokStep = kThreads / 8, kTokCopies = kBlockTokens / kTokStep;
  auto copy_weights = [&](int stage, int u) {
    copy16(smem + stage * kStageBytes + w_dst, w_src + static_cast<int64_t>(u) * kTileBytes, w_in ? 16 : 0);
  };
  auto copy_acts = [&](int stage, int u) {
#pragma unroll
    for (int i = 0; i < kTokCopies; ++i) {
      const int tok = q_tok + kTokStep * i;
      const bool in = tok0 + tok < a.n;
      copy16(smem + stage * kStageBytes + tok * kTileCols + ((q_chunk ^ (tok & 7)) << 4),
             q_src + (in ? static_cast<int64_t>(kTokStep * i) * p.stride : 0) + u * kTileCols, in ? 16 : 0);
    }
  };
  // Units in flight ahead of the one multiplied. Weights are never written by a kernel: the first
  // units' are requested before waiting for the kernel that writes the activations.
  constexpr int kAhead = kStages - 1;
  const int units = p.units;
#pragma unroll
  for (int st = 0; st < kAhead; ++st)
    if (st < units) copy_weights(st, st);
  pdl_wait();
#pragma unroll
  for (int st = 0; st < kAhead; ++st) {
    if (st < units) copy_acts(st, st);
    copy_commit();
  }

  int d[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) d[i] = 0;
  // Lane (g, t)'s A fragment of k-step s (columns 32 s .. 32 s + 31 of the unit, in order) is held
  // by lane 4 g + s of the mma16 tile: word t / 2 (columns 4 t .. 4 t + 3) and word 2 + t / 2
  // (16 + 4 t ..), the codes of rows g and g + 8 at bit 4 (t % 2) and 4 (t % 2) + 2 of each byte.
  // The 16 distinct words a warp reads at once fall in 16 banks (chunk 8 s + g).
  const uint32_t w_read = kActBytes + warp * kTileBytes + g * 16 + 4 * (t >> 1);
  const int shift = 4 * (t & 1);
  for (int u = 0; u < units; ++u) {
    copy_wait<kAhead - 1>();
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // cp.async's writes, seen by wgmma
    __syncthreads();  // unit u is in for all; unit u - 1's wgmma are done, its stage is refilled next
    const int next = u + kAhead;
    if (next < units) {
      copy_weights(next % kStages, next);
      copy_acts(next % kStages, next);
    }
    copy_commit();
    const uint32_t stage = smem + (u % kStages) * kStageBytes;
    uint32_t ar[4][4];
#pragma unroll
    for (int s = 0; s < 4; ++s) {
      const uint32_t lo = lds32(stage + w_read + s * 128), hi = lds32(stage + w_read + s * 128 + 8);
      ar[s][0] = (lo >> shift) & 0x03030303u;
      ar[s][1] = (lo >> (shift + 2)) & 0x03030303u;
      ar[s][2] = (hi >> shift) & 0x03030303u;
      ar[s][3] = (hi >> (shift + 2)) & 0x03030303u;
    }
    wgmma_fence();
#pragma unroll
    for (int s = 0; s < 4; ++s) wgmma_128(d, ar[s], smem_desc(stage + s * 32));
    wgmma_commit();
    // Done before the next unit: decoding its A registers while these run would make ptxas
    // serialise the wgmma (C7513); the other warpgroup and the SM's other block keep the tensor
    // cores busy meanwhile.
    wgmma_wait<0>(d);
  }
  copy_wait<0>();  // no copy outlives the block (the last groups are empty)

  // d[4 j + c]: the mma accumulator layout of 16 groups of 8 tokens.
  store_sums<1, 16>(p.out, reinterpret_cast<const int(&)[1][16][4]>(d), (tile0 + warp) * kTileRows, tok0, p.rows, a.n);
#else
  (void)a;
  __trap();  // built for sm_90a only (cuda.cmake); tiled_product_available() keeps launches away elsewhere
#endif
}

}  // namespace

bool tiled_product_available() {
  // This file is always built for sm_90a, whose code runs on compute capability 9.0 alone.
  static const bool ok = [] {
    int dev = 0, major = 0, minor = 0;
    check(cudaGetDevice(&dev), "current device");
    check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), "compute capability");
    check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev), "compute capability");
    return major == 9 && minor == 0;
  }();
  return ok;
}

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
  launch_pdl("ternary product kernel (tiled, wgmma)", tiled_kernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreads),
             kSharedBytes, s, a);
}

}  // namespace mmfree::cuda
