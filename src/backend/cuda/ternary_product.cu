#include "backend/cuda/ternary_product.h"

#include <algorithm>
#include <string>

#include "backend/cuda/mma_layout.h"
#include "backend/cuda/runtime.h"

namespace mmfree::cuda {
namespace {

constexpr int kMaxBlockWarps = 16;

struct KernelProduct {
  const uint4* w;
  const int8_t* q;
  int64_t stride;
  const int32_t* sums;
  const float* scale;
  int units;
  int32_t* acc;
  float* y;
  int64_t ld;
  float w_scale;
  int rows, tile_begin, tiles;  // tiles of this product: [tile_begin, tile_begin + tiles) of the launch
};

struct KernelArgs {
  KernelProduct p[kMaxProducts];
  int count;
  int n, total_tiles;
  int row_warps, k_warps;  // warps of a block: row_warps tiles x k_warps column slices
};

__device__ __forceinline__ void mma_s8(int (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                       uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// One 128-column unit of a 16-row tile times NT groups of 8 tokens. wv: this lane's 16 bytes of
// codes; q: this lane's 32 bytes of the unit in token 0's row; the lane's token in group nt is
// tok + 8 nt, clamped to last (tokens past the end read the last row; their sums are never stored).
template <int NT>
__device__ __forceinline__ void tile_unit(int (&acc)[NT][4], const uint4 wv, const int8_t* q, int64_t stride, int tok,
                                          int last) {
  const uint32_t w[4] = {wv.x, wv.y, wv.z, wv.w};
  uint32_t a[4][4];
#pragma unroll
  for (int kt = 0; kt < 4; ++kt)
#pragma unroll
    for (int l = 0; l < 4; ++l) a[kt][l] = (w[kt] >> (2 * l)) & 0x03030303u;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    const int8_t* row = q + static_cast<int64_t>(min(tok + 8 * nt, last)) * stride;
    const int4 lo = __ldg(reinterpret_cast<const int4*>(row));
    const int4 hi = __ldg(reinterpret_cast<const int4*>(row + 16));
    const uint32_t b[8] = {uint32_t(lo.x), uint32_t(lo.y), uint32_t(lo.z), uint32_t(lo.w),
                           uint32_t(hi.x), uint32_t(hi.y), uint32_t(hi.z), uint32_t(hi.w)};
#pragma unroll
    for (int kt = 0; kt < 4; ++kt) mma_s8(acc[nt], a[kt][0], a[kt][1], a[kt][2], a[kt][3], b[2 * kt], b[2 * kt + 1]);
  }
}

template <int NT>
__global__ void __launch_bounds__(NT == 8 ? 256 : 32 * kMaxBlockWarps) product_kernel(const __grid_constant__ KernelArgs a) {
  extern __shared__ int partial[];  // [warps][NT * 4][32], only when k_warps > 1
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int wr = warp / a.k_warps, wk = warp % a.k_warps;
  const int tile = blockIdx.x * a.row_warps + wr;
  const bool active = tile < a.total_tiles;
  KernelProduct p = a.p[0];
#pragma unroll
  for (int i = 1; i < kMaxProducts; ++i)
    if (i < a.count && tile >= a.p[i].tile_begin) p = a.p[i];
  const int tok0 = blockIdx.y * 8 * NT;

  int acc[NT][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int c = 0; c < 4; ++c) acc[nt][c] = 0;

  if (active) {
    const int8_t* q = p.q + 32 * t;
    const uint4* wp = p.w + static_cast<int64_t>(tile - p.tile_begin) * p.units * 32 + lane;
    int u = wk;
    uint4 next = u < p.units ? __ldcs(wp + static_cast<int64_t>(u) * 32) : make_uint4(0, 0, 0, 0);
    while (u < p.units) {
      const uint4 cur = next;
      const int un = u + a.k_warps;
      if (un < p.units) next = __ldcs(wp + static_cast<int64_t>(un) * 32);  // in flight during this unit's math
      tile_unit<NT>(acc, cur, q + static_cast<int64_t>(u) * kTileCols, p.stride, tok0 + g, a.n - 1);
      u = un;
    }
  }

  if (a.k_warps > 1) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int c = 0; c < 4; ++c) partial[((warp * NT + nt) * 4 + c) * 32 + lane] = acc[nt][c];
    __syncthreads();
    if (wk != 0) return;
    for (int k = 1; k < a.k_warps; ++k)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[nt][c] += partial[(((warp + k) * NT + nt) * 4 + c) * 32 + lane];
  }
  if (!active) return;

  // Accumulator c of group nt: row g (+ 8 for c >= 2) of the tile, token 2t (+ 1 for odd c) of the group.
  const int row0 = (tile - p.tile_begin) * kTileRows;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const int row = row0 + g + 8 * (c >> 1), tok = tok0 + nt * 8 + 2 * t + (c & 1);
      if (row >= p.rows || tok >= a.n) continue;
      const int32_t v = acc[nt][c] - p.sums[tok];
      const int64_t at = static_cast<int64_t>(tok) * p.ld + row;
      // The CPU's operations: float(v) / (s_x * s_w), each rounded to nearest.
      if (p.y) p.y[at] = __fdiv_rn(__int2float_rn(v), __fmul_rn(p.scale[tok], p.w_scale));
      else p.acc[at] = v;
    }
}

int sm_count() {
  int dev = 0, sms = 0;
  check(cudaGetDevice(&dev), "current device");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "multiprocessor count");
  return sms;
}

// Column-splitting warps per tile: enough warps in flight to cover memory latency on every SM
// (about 32 per SM), and never more warps than units.
int auto_k_warps(int64_t tiles_x_token_groups, int units) {
  static const int sms = sm_count();
  const int64_t want = int64_t{32} * sms;
  int kw = 1;
  while (kw < kMaxBlockWarps && kw * 2 <= units && tiles_x_token_groups * kw < want) kw *= 2;
  return kw;
}

template <int NT>
void launch(const KernelArgs& a, int token_groups, cudaStream_t s) {
  const int warps = a.row_warps * a.k_warps;
  const dim3 grid((a.total_tiles + a.row_warps - 1) / a.row_warps, token_groups);
  const size_t shared = a.k_warps > 1 ? static_cast<size_t>(warps) * NT * 4 * 32 * sizeof(int) : 0;
  product_kernel<NT><<<grid, 32 * warps, shared, s>>>(a);
  check_launch("ternary product kernel");
}

}  // namespace

void ternary_product(std::span<const Product> products, cudaStream_t s, ProductTuning tuning) {
  if (products.empty() || products.size() > static_cast<size_t>(kMaxProducts))
    throw Error("internal: ternary_product takes 1 to " + std::to_string(kMaxProducts) + " products");
  const int64_t n = products[0].x.n;
  if (n <= 0 || n > (int64_t{1} << 24)) throw Error("internal: ternary_product of " + std::to_string(n) + " tokens");
  KernelArgs a{};
  a.count = static_cast<int>(products.size());
  a.n = static_cast<int>(n);
  int64_t tiles = 0;
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
    k.sums = x.sums;
    k.scale = x.scale;
    k.units = static_cast<int>(col_units(x.cols));
    k.acc = pr.out.acc;
    k.y = pr.out.y;
    k.ld = pr.out.ld;
    k.w_scale = pr.out.w_scale;
    k.rows = static_cast<int>(pr.w.rows);
    k.tile_begin = static_cast<int>(tiles);
    k.tiles = static_cast<int>(row_tiles(pr.w.rows));
    tiles += k.tiles;
    max_units = std::max(max_units, k.units);
  }
  if (tiles >= (int64_t{1} << 30)) throw Error("internal: ternary_product: too many rows in one launch");
  a.total_tiles = static_cast<int>(tiles);

  // Tokens per warp: 8 * NT (NT groups of 8, the mma's n).
  const int nt = n <= 8 ? 1 : n <= 16 ? 2 : n <= 32 ? 4 : 8;
  const int token_groups = static_cast<int>((n + 8 * nt - 1) / (8 * nt));
  // 16 warps of 8 token groups would need 64 KB of shared memory for the partial sums.
  const int max_kw = nt == 8 ? 8 : kMaxBlockWarps;
  const int kw = tuning.k_warps ? tuning.k_warps : std::min(max_kw, auto_k_warps(tiles * token_groups, max_units));
  if (kw < 1 || kw > max_kw || (kw & (kw - 1)) != 0)
    throw Error("internal: ternary_product k_warps must be a power of two up to " + std::to_string(max_kw));
  a.k_warps = kw;
  // Blocks of 8 warps (16 when kw = 16; NT = 8 keeps kw <= 8, as its launch bounds assume): row tiles
  // share the activations in L1.
  a.row_warps = std::max(1, 8 / kw);
  switch (nt) {
    case 1: launch<1>(a, token_groups, s); break;
    case 2: launch<2>(a, token_groups, s); break;
    case 4: launch<4>(a, token_groups, s); break;
    default: launch<8>(a, token_groups, s); break;
  }
}

}  // namespace mmfree::cuda
