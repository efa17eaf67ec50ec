#include "backend/cuda/product_tiled.cuh"

#include <cstdint>
#include <string>
#include <type_traits>

#include "backend/cuda/launch.cuh"
#include "backend/cuda/mma_layout.h"
#include "backend/cuda/runtime.h"
#include "backend/cuda/scaled_quotient.h"

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
// After the stages: each of the block's tokens' sum of q, s_x * s_w and RN(1 / (s_x * s_w)) (0 where
// the division itself is taken), as 3 arrays of kBlockTokens words.
constexpr int kTokenBytes = 3 * kBlockTokens * 4;
constexpr int kSharedBytes = kStages * kStageBytes + kTokenBytes + 1024;  // + alignment of the first stage
static_assert(kStageBytes % 1024 == 0 && kTiledBlockTiles % 4 == 0);
// The epilogue stages the block's int32 sums in the stages' memory, token-major: a token's 128 rows
// at a stride of 132 words, so that the accumulator layout's writes (tokens 2t, 2t + 1 x rows g,
// g + 8) fall in 32 different banks and a warp reads one token's rows as 16 bytes a lane.
constexpr int kBlockRows = kTiledBlockTiles * kTileRows;
constexpr int kOutStride = kBlockRows + 4;
static_assert(kBlockRows == 4 * 32 && kBlockTokens * kOutStride * 4 <= kStages * kStageBytes);

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
  // The epilogue's per-token values, read now (the kernel before wrote them) so that their latency
  // hides under the main loop; the division's reciprocal formed once per token.
  uint8_t* const smem_ptr = smem_raw + (smem - static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw)));
  int32_t* const tok_sum = reinterpret_cast<int32_t*>(smem_ptr + kStages * kStageBytes);
  float* const tok_den = reinterpret_cast<float*>(tok_sum + kBlockTokens);
  float* const tok_rcp = tok_den + kBlockTokens;
  if (tid < kBlockTokens) {
    const int tok = min(tok0 + tid, a.n - 1);
    tok_sum[tid] = __ldg(p.out.sums + tok);
    const float den = p.out.y ? __fmul_rn(__ldg(p.out.scale + tok), p.out.w_scale) : 0.0f;
    tok_den[tid] = den;
    tok_rcp[tid] = quotient_fast(den) ? quotient_reciprocal(den) : 0.0f;
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
  __syncthreads();  // every warpgroup's wgmma are done with the stages, which now take the sums

  // d[4 j + c]: the mma accumulator layout of 16 groups of 8 tokens, row 16 warp + g (+ 8 for
  // c >= 2) of the block, token 8 j + 2 t (+ 1 for odd c).
  int32_t* const staged = reinterpret_cast<int32_t*>(smem_ptr);
#pragma unroll
  for (int j = 0; j < 16; ++j)
#pragma unroll
    for (int c = 0; c < 4; ++c) staged[(8 * j + 2 * t + (c & 1)) * kOutStride + 16 * warp + g + 8 * (c >> 1)] = d[4 * j + c];
  __syncthreads();

  // Each warp writes whole tokens: lane L the rows 4 L .. 4 L + 3 of the block, one 16-byte store
  // where the output's rows allow it (ld and the pointer a multiple of 16 bytes), else 4 of 4 bytes.
  const SumStore& out = p.out;
  const int row = tile0 * kTileRows + 4 * lane;
  const bool vec = ((reinterpret_cast<uintptr_t>(out.y ? static_cast<void*>(out.y) : out.acc) | (out.ld * 4)) & 15) == 0;
  auto put = [&](auto* at, const auto (&v)[4]) {  // st.global (the pointer alone would make it a generic store)
    if (vec && row + 3 < p.rows) {
      using V = std::conditional_t<std::is_same_v<std::remove_cvref_t<decltype(v[0])>, float>, float4, int4>;
      __stwb(reinterpret_cast<V*>(at), V{v[0], v[1], v[2], v[3]});
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (row + e < p.rows) __stwb(at + e, v[e]);
    }
  };
#pragma unroll 4
  for (int i = warp; i < kBlockTokens; i += kThreads / 32) {
    const int tok = tok0 + i;
    if (tok >= a.n) break;
    const int4 s = *reinterpret_cast<const int4*>(staged + i * kOutStride + 4 * lane);
    const int32_t sum = tok_sum[i];
    const int32_t v[4] = {s.x - sum, s.y - sum, s.z - sum, s.w - sum};
    const int64_t at = static_cast<int64_t>(tok) * out.ld + row;
    if (!out.y) {
      put(out.acc + at, v);
      continue;
    }
    const float den = tok_den[i], rcp = tok_rcp[i];
    float y[4];
    if (rcp == 0.0f) {  // the same for the whole warp (one token)
#pragma unroll
      for (int e = 0; e < 4; ++e) y[e] = __fdiv_rn(__int2float_rn(v[e]), den);  // the CPU's float(v) / den
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e) y[e] = scaled_quotient(v[e], den, rcp);  // the same bits (scaled_quotient.h)
    }
    put(out.y + at, y);
  }
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
