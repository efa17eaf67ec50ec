#include "backend/cuda/ternary_product.h"

#include <algorithm>
#include <string>

#include "backend/cuda/launch.cuh"
#include "backend/cuda/mma_layout.h"
#include "backend/cuda/product_common.cuh"
#include "backend/cuda/product_tiled.cuh"
#include "backend/cuda/runtime.h"

namespace mmfree::cuda {
namespace {

constexpr int kMaxBlockWarps = 16;

// One 128-column unit of RT 16-row tiles times NT groups of 8 tokens. wv[rt]: this lane's 16 bytes
// of tile rt's codes; q: this lane's 32 bytes of the unit in token 0's row; the lane's token in
// group nt is tok + 8 nt, clamped to last (tokens past the end read the last row; their sums are
// never stored). Each activation fragment serves RT tiles: more rows per warp, fewer bytes of
// activations per multiply-add.
template <int NT, int RT>
__device__ __forceinline__ void strip_unit(int (&acc)[RT][NT][4], const uint4 (&wv)[RT], const int8_t* q, int64_t stride,
                                           int tok, int last) {
  uint32_t a[RT][4][4];
#pragma unroll
  for (int rt = 0; rt < RT; ++rt) {
    const uint32_t w[4] = {wv[rt].x, wv[rt].y, wv[rt].z, wv[rt].w};
#pragma unroll
    for (int kt = 0; kt < 4; ++kt)
#pragma unroll
      for (int l = 0; l < 4; ++l) a[rt][kt][l] = a_fragment(w[kt], l);
  }
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    const int8_t* row = q + static_cast<int64_t>(min(tok + 8 * nt, last)) * stride;
    const int4 lo = __ldg(reinterpret_cast<const int4*>(row));
    const int4 hi = __ldg(reinterpret_cast<const int4*>(row + 16));
    const uint32_t b[8] = {uint32_t(lo.x), uint32_t(lo.y), uint32_t(lo.z), uint32_t(lo.w),
                           uint32_t(hi.x), uint32_t(hi.y), uint32_t(hi.z), uint32_t(hi.w)};
#pragma unroll
    for (int rt = 0; rt < RT; ++rt)
#pragma unroll
      for (int kt = 0; kt < 4; ++kt)
        mma_s8(acc[rt][nt], a[rt][kt][0], a[rt][kt][1], a[rt][kt][2], a[rt][kt][3], b[2 * kt], b[2 * kt + 1]);
  }
}

// A warp computes one strip (RT row tiles of one product) for 8 * NT tokens over the units
// wk, wk + k_warps, ...; its loads for kDepth units are in flight together. Warps of one strip
// (k_warps > 1) add their partial sums in shared memory.
template <int NT, int RT>
__global__ void __launch_bounds__(RT == 2 ? 256 : 32 * kMaxBlockWarps) product_kernel(const __grid_constant__ KernelArgs a) {
  constexpr int kDepth = RT == 1 ? 4 : 2;
  extern __shared__ int partial[];  // [warps][RT * NT * 4][32], only when k_warps > 1
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int wr = warp / a.k_warps, wk = warp % a.k_warps;
  const int strip = blockIdx.x * a.row_warps + wr;
  const bool active = strip < a.total_strips;
  const KernelProduct p = product_of(a, strip);
  const int tile0 = (strip - p.strip_begin) * RT;  // the strip's first row tile within its product
  const int tok0 = blockIdx.y * 8 * NT;

  int acc[RT][NT][4];
#pragma unroll
  for (int rt = 0; rt < RT; ++rt)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[rt][nt][c] = 0;

  pdl_allow_next();
  const int8_t* q = p.q + 32 * t;
  const uint4* wp = p.w + static_cast<int64_t>(tile0) * p.units * 32 + lane;
  const int64_t tile_step = static_cast<int64_t>(p.units) * 32;
  auto load = [&](uint4 (&w)[RT], int u) {
#pragma unroll
    for (int rt = 0; rt < RT; ++rt)
      w[rt] = tile0 + rt < p.tiles ? __ldcs(wp + rt * tile_step + static_cast<int64_t>(u) * 32) : make_uint4(0, 0, 0, 0);
  };
  int u = wk;
  if constexpr (RT == 1) {
    // Decode: the first units' weights are loaded before waiting for the kernel that writes the
    // activations, so that they stream while it finishes (weights are never written by a kernel).
    uint4 first[kDepth][1];
#pragma unroll
    for (int d = 0; d < kDepth; ++d)
      if (active && u + d * a.k_warps < p.units) load(first[d], u + d * a.k_warps);
    pdl_wait();
#pragma unroll
    for (int d = 0; d < kDepth; ++d)  // the condition is the same for the whole warp, as mma.sync needs
      if (active && u + d * a.k_warps < p.units)
        strip_unit<NT, RT>(acc, first[d], q + static_cast<int64_t>(u + d * a.k_warps) * kTileCols, p.stride, tok0 + g,
                           a.n - 1);
    u += kDepth * a.k_warps;
  } else {
    pdl_wait();
  }
  if (active) {
    for (; u + (kDepth - 1) * a.k_warps < p.units; u += kDepth * a.k_warps) {
      uint4 w[kDepth][RT];
#pragma unroll
      for (int d = 0; d < kDepth; ++d) load(w[d], u + d * a.k_warps);
#pragma unroll
      for (int d = 0; d < kDepth; ++d)
        strip_unit<NT, RT>(acc, w[d], q + static_cast<int64_t>(u + d * a.k_warps) * kTileCols, p.stride, tok0 + g, a.n - 1);
    }
    for (; u < p.units; u += a.k_warps) {
      uint4 w[RT];
      load(w, u);
      strip_unit<NT, RT>(acc, w, q + static_cast<int64_t>(u) * kTileCols, p.stride, tok0 + g, a.n - 1);
    }
  }

  constexpr int kSums = RT * NT * 4;
  if (a.k_warps > 1) {
#pragma unroll
    for (int rt = 0; rt < RT; ++rt)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int c = 0; c < 4; ++c) partial[((warp * RT + rt) * NT * 4 + nt * 4 + c) * 32 + lane] = acc[rt][nt][c];
    __syncthreads();
    if (wk != 0) return;
    const auto add_partials = [&](int k) {
#pragma unroll
      for (int rt = 0; rt < RT; ++rt)
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int c = 0; c < 4; ++c) acc[rt][nt][c] += partial[((warp + k) * kSums + (rt * NT + nt) * 4 + c) * 32 + lane];
    };
    if constexpr (NT == 1) {
      // Decode: every warp's loads issued together, where a loop over k_warps waits on each in turn
      // (H200, 2.7B decode: 1,049-1,058 tokens/s against 1,034-1,044); with two token groups, 16
      // sequences measured slower that way (9,884-10,129 tokens/s against 10,726-10,901).
#pragma unroll
      for (int k = 1; k < kMaxBlockWarps; ++k)
        if (k < a.k_warps) add_partials(k);
    } else {
      for (int k = 1; k < a.k_warps; ++k) add_partials(k);
    }
  }
  if (!active) return;

  store_sums<RT, NT>(p.out, acc, tile0 * kTileRows, tok0, p.rows, a.n);
}

int sm_count() {
  int dev = 0, sms = 0;
  check(cudaGetDevice(&dev), "current device");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "multiprocessor count");
  return sms;
}

}  // namespace

// The most (a power of two, at most max_kw and the units of a row) that keep the launch within about
// 32 / NT warps per SM (a warp of NT token groups has NT times the work per byte). Measured on the
// H200 (docs/BENCHMARKS.md): each of 7 shapes at n = 1, and both swept at n = 16, ran fastest at
// this split, and slower past it.
int auto_k_warps(int64_t strips_x_token_groups, int units, int nt, int max_kw) {
  static const int sms = sm_count();
  const int64_t want = int64_t{32} * sms / nt;
  int kw = 1;
  while (kw * 2 <= max_kw && kw * 2 <= units && strips_x_token_groups * kw * 2 <= want) kw *= 2;
  return kw;
}

namespace {

template <int NT, int RT>
void launch(const KernelArgs& a, int token_groups, cudaStream_t s) {
  const int warps = a.row_warps * a.k_warps;
  const dim3 grid((a.total_strips + a.row_warps - 1) / a.row_warps, token_groups);
  const size_t shared = a.k_warps > 1 ? static_cast<size_t>(warps) * RT * NT * 4 * 32 * sizeof(int) : 0;
  static const bool raised = [] {  // the partial sums of 8 warps x 2 tiles x 8 groups take 64 KB
    check(cudaFuncSetAttribute(product_kernel<NT, RT>, cudaFuncAttributeMaxDynamicSharedMemorySize, 96 * 1024),
          "raise the shared memory limit");
    return true;
  }();
  (void)raised;
  launch_pdl("ternary product kernel", product_kernel<NT, RT>, grid, dim3(32 * warps), shared, s, a);
}

}  // namespace

void ternary_product(std::span<const Product> products, cudaStream_t s, ProductTuning tuning) {
  if (products.empty() || products.size() > static_cast<size_t>(kMaxProducts))
    throw Error("internal: ternary_product takes 1 to " + std::to_string(kMaxProducts) + " products");
  const int64_t n = products[0].x.n;
  if (n <= 0 || n > (int64_t{1} << 24)) throw Error("internal: ternary_product of " + std::to_string(n) + " tokens");
  // Tokens per warp: 8 * NT (NT groups of 8, the mma's n); past 32 tokens a warp takes RT = 2 row
  // tiles so that each activation fragment serves 32 rows, and 32 tokens (64 when tuned so: 188
  // registers, one block per SM, 20-30% slower on the H200).
  if (tuning.warp_tokens != 0 && tuning.warp_tokens != 32 && tuning.warp_tokens != 64)
    throw Error("internal: ternary_product warp_tokens must be 32 or 64");
  // Many tokens: blocks of 128 rows x 128 tokens through shared memory (product_tiled.cuh), from
  // kTiledMinTokens on and with enough such blocks for 3 per SM, where it measured faster on the H200
  // (docs/BENCHMARKS.md); with fewer, the warp path's smaller pieces keep more SMs busy.
  if (tuning.path == ProductPath::Tiled && !tiled_product_available())
    throw Error("internal: ternary_product: the tiled path needs a Hopper GPU (sm_90a code)");
  static const int sms = sm_count();
  int64_t tiled_blocks = 0;
  for (const Product& pr : products) tiled_blocks += (row_tiles(pr.w.rows) + kTiledBlockTiles - 1) / kTiledBlockTiles;
  tiled_blocks *= (n + 127) / 128;
  const bool tiled = tuning.path == ProductPath::Tiled ||
                     (tuning.path == ProductPath::Auto && n >= kTiledMinTokens && tiled_blocks >= 3 * sms &&
                      tiled_product_available());
  if (tiled && (tuning.k_warps != 0 || tuning.warp_tokens != 0))
    throw Error("internal: ternary_product k_warps and warp_tokens apply to the warp path");
  const int nt = n <= 8 ? 1 : n <= 16 ? 2 : n > 32 && tuning.warp_tokens == 64 ? 8 : 4;
  const int rt = tiled ? kTiledBlockTiles : n > 32 ? 2 : 1;  // row tiles of a strip
  const int token_groups = static_cast<int>((n + 8 * nt - 1) / (8 * nt));
  KernelArgs a{};
  a.count = static_cast<int>(products.size());
  a.n = static_cast<int>(n);
  int64_t strips = 0;
  int max_units = 1;
  for (size_t i = 0; i < products.size(); ++i) {
    const Product& pr = products[i];
    const DeviceActivations& x = pr.x;
    mma_bytes(pr.w.rows, pr.w.cols);  // validates the shape
    const bool x_ok = x.n == n && x.q && x.sums && x.cols == pr.w.cols && x.stride % 16 == 0 &&
                      x.stride >= padded_cols(x.cols) && reinterpret_cast<uintptr_t>(x.q) % 16 == 0;
    const bool w_ok = pr.w.codes && reinterpret_cast<uintptr_t>(pr.w.codes) % 16 == 0;
    const bool out_ok = (pr.out.acc != nullptr) != (pr.out.y != nullptr) && pr.out.ld >= pr.w.rows && (!pr.out.y || x.scale);
    if (!x_ok || !w_ok || !out_ok)
      throw Error("internal: ternary_product " + std::to_string(i) + ": " + std::to_string(pr.w.rows) + " x " +
                  std::to_string(pr.w.cols) + " matrix, activations " + std::to_string(x.n) + " x " +
                  std::to_string(x.cols) + " at stride " + std::to_string(x.stride) + " (needs a multiple of 16, >= " +
                  std::to_string(padded_cols(pr.w.cols)) + ", 16-byte aligned, sums set), output " +
                  (out_ok ? "ok" : "unset, ambiguous, or with ld < rows or no scale"));
    KernelProduct& k = a.p[i];
    k.w = reinterpret_cast<const uint4*>(pr.w.codes);
    k.q = x.q;
    k.stride = x.stride;
    k.out = SumStore{x.sums, x.scale, pr.out.acc, pr.out.y, pr.out.ld, pr.out.w_scale};
    k.units = static_cast<int>(col_units(x.cols));
    k.rows = static_cast<int>(pr.w.rows);
    k.tiles = static_cast<int>(row_tiles(pr.w.rows));
    k.strip_begin = static_cast<int>(strips);
    strips += (k.tiles + rt - 1) / rt;
    max_units = std::max(max_units, k.units);
  }
  if (strips >= (int64_t{1} << 30)) throw Error("internal: ternary_product: too many rows in one launch");
  a.total_strips = static_cast<int>(strips);
  if (tiled) return launch_tiled(a, s);

  const int max_kw = rt == 2 ? 8 : kMaxBlockWarps;  // the launch bounds of RT = 2 allow 8 warps
  const int kw = tuning.k_warps ? tuning.k_warps : auto_k_warps(strips * token_groups, max_units, nt, max_kw);
  if (kw < 1 || kw > max_kw || (kw & (kw - 1)) != 0)
    throw Error("internal: ternary_product k_warps must be a power of two up to 16 (8 past 32 tokens)");
  a.k_warps = kw;
  // Blocks of 8 warps (16 when kw = 16; past 32 tokens kw <= 8, as the launch bounds assume):
  // strips of a block share the activations in L1.
  a.row_warps = std::max(1, 8 / kw);
  if (nt == 1) launch<1, 1>(a, token_groups, s);
  else if (nt == 2) launch<2, 1>(a, token_groups, s);
  else if (nt == 4 && rt == 1) launch<4, 1>(a, token_groups, s);
  else if (nt == 4) launch<4, 2>(a, token_groups, s);
  else launch<8, 2>(a, token_groups, s);
}

}  // namespace mmfree::cuda
