#include "backend/cuda/row_kernel_many.cuh"

#include "backend/cuda/launch.cuh"
#include "backend/cuda/quant_code.h"
#include "backend/cuda/row_warps.cuh"
#include "backend/cuda/scaled_quotient.h"

namespace mmfree::cuda {
namespace {

// With rows enough to fill the GPU, the pass is bound by memory, and elementwise.cu's row kernel
// (a block per row, m in shared memory, a barrier per reduction) kept too few bytes in flight:
// 1 TB/s on the H200 at 16,384 rows of 1024. Here a row's W warps hold its values in registers
// (kChunks 16-byte chunks a thread: rows up to 1024 W), load them all before the first reduction,
// and reduce by shuffles (W > 1: and one named barrier of the row's warps per reduction).
constexpr int kThreads = 256;  // a block: 8 warps, 8 / W rows
constexpr int kChunks = 8;
constexpr int kRowValues = 32 * 4 * kChunks;  // a warp's share of a row
constexpr int kMaxWarpsPerRow = kThreads / 32;

template <int W>
__device__ __forceinline__ double row_sum(double partial, double* scratch) {
  double v[1] = {partial};
  row_reduce<W>(v, DoubleSum{}, scratch);
  return v[0];
}

// QuantTarget::dequantized: q / s rounded to bf16 for 4 codes held as floats, stored at dq (8 bytes).
// The division is scaled_quotient.h's exact sequence (r = RN(1 / s)) where s allows it (every s
// but those of rows whose amax passes 127 * 2^64).
__device__ __forceinline__ void store_dequantized(__nv_bfloat16* dq, const float (&c)[4], float s, float r) {
  float d[4];
  if (quotient_fast(s)) {
#pragma unroll
    for (int e = 0; e < 4; ++e) d[e] = scaled_quotient_of_float(c[e], s, r);
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) d[e] = c[e] / s;
  }
  alignas(8) const __nv_bfloat162 b[2] = {__halves2bfloat162(__float2bfloat16_rn(d[0]), __float2bfloat16_rn(d[1])),
                                          __halves2bfloat162(__float2bfloat16_rn(d[2]), __float2bfloat16_rn(d[3]))};
  *reinterpret_cast<uint2*>(dq) = *reinterpret_cast<const uint2*>(b);
}

// The row kernel's operations (elementwise.cu row_kernel, RowMode Plain, Gated and Glu) on the
// row's values held as chunks of 4 consecutive columns: thread t of the row has chunks t + j * 32 W.
// Codes false (Plain, one target: training's backward): the target's q and sums are null; only s_x
// and the bf16 q / s_x are written, and the codes never leave registers.
template <RowMode M, int N, int W, bool Codes>  // N: the number of targets; W: warps per row
__global__ void __launch_bounds__(kThreads, 2) many_rows_kernel(const __grid_constant__ RowArgs a, int64_t n) {
  constexpr int T = 32 * W;
  __shared__ double pre_scratch[kMaxWarpsPerRow], ss_scratch[kMaxWarpsPerRow];
  __shared__ float max_scratch[kMaxWarpsPerRow * N];
  __shared__ int sum_scratch[kMaxWarpsPerRow * N];
  const int t = threadIdx.x % T;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (kThreads / T) + threadIdx.x / T;
  pdl_allow_next();
  pdl_wait();
  if (row >= n) return;  // the row's warps together: no barrier waits for them
  const int k = a.k, chunks = k / 4;
  auto live = [&](int j) { return j * T + t < chunks; };
  auto col = [&](int j) { return 4 * (j * T + t); };
  float m[kChunks][4];
  double ss = 0;  // the sum of squares of m, this thread's part
  auto add_squares = [&](const float (&v)[4]) {
#pragma unroll
    for (int e = 0; e < 4; ++e) ss += static_cast<double>(v[e]) * v[e];
  };
  float* __restrict__ x = a.x + row * a.ld;

  if constexpr (M == RowMode::Plain) {
#pragma unroll
    for (int j = 0; j < kChunks; ++j)
      if (live(j)) load4(x + col(j), m[j]);
    if (a.add) {
      const float* __restrict__ add = a.add + row * a.ld;
      float r[kChunks][4];
#pragma unroll
      for (int j = 0; j < kChunks; ++j)
        if (live(j)) load4(add + col(j), r[j]);
#pragma unroll
      for (int j = 0; j < kChunks; ++j)
        if (live(j)) {
#pragma unroll
          for (int e = 0; e < 4; ++e) m[j][e] = m[j][e] + r[j][e];
          store4(x + col(j), m[j]);
        }
    }
    if (a.keep.x)
#pragma unroll
      for (int j = 0; j < kChunks; ++j)
        if (live(j)) store4(a.keep.x + row * k + col(j), m[j]);
#pragma unroll
    for (int j = 0; j < kChunks; ++j)
      if (live(j)) add_squares(m[j]);
    if (a.w_pre) {  // m = RMSNorm(x) * w_pre (rmsnorm_rows)
      const float rstd = rstd_from_sum(row_sum<W>(ss, pre_scratch), k, a.eps);
      ss = 0;
#pragma unroll
      for (int j = 0; j < kChunks; ++j)
        if (live(j)) {
          float w[4];
          load4_weights(a.w_pre + col(j), w);
#pragma unroll
          for (int e = 0; e < 4; ++e) m[j][e] = normed(m[j][e], rstd, w[e]);
          add_squares(m[j]);
        }
    }
  } else if constexpr (M == RowMode::Gated) {  // m = silu(h) * (RMSNorm(g) * w_g), g in x
#pragma unroll
    for (int j = 0; j < kChunks; ++j)
      if (live(j)) {
        load4(x + col(j), m[j]);
        add_squares(m[j]);
      }
    const float rstd = rstd_from_sum(row_sum<W>(ss, pre_scratch), k, a.eps);
    ss = 0;
    const float* __restrict__ h = a.h + row * a.ld;
#pragma unroll
    for (int j = 0; j < kChunks; ++j)
      if (live(j)) {
        float hv[4], w[4];
        load4(h + col(j), hv);
        load4_weights(a.w_pre + col(j), w);
#pragma unroll
        for (int e = 0; e < 4; ++e) m[j][e] = silu_f(hv[e]) * normed(m[j][e], rstd, w[e]);
        add_squares(m[j]);
      }
  } else {
    static_assert(M == RowMode::Glu, "GatedStep (decode) stays on elementwise.cu's row kernel");
#pragma unroll
    for (int j = 0; j < kChunks; ++j)
      if (live(j)) {
        float v[4];
        load4(x + col(j), m[j]);
        load4(x + k + col(j), v);
#pragma unroll
        for (int e = 0; e < 4; ++e) m[j][e] = silu_f(m[j][e]) * v[e];
        add_squares(m[j]);
      }
  }

  if (a.keep.m)
#pragma unroll
    for (int j = 0; j < kChunks; ++j)
      if (live(j)) store4(a.keep.m + row * k + col(j), m[j]);
  // rmsnorm_quantize_ref on m for each target (eps 1e-6: SPEC.md, BitLinear step 1).
  const float rstd = rstd_from_sum(row_sum<W>(ss, ss_scratch), k, 1e-6f);
  float amax[N];
  int sum[N];
#pragma unroll
  for (int u = 0; u < N; ++u) {
    amax[u] = 0;
    sum[u] = 0;
#pragma unroll
    for (int j = 0; j < kChunks; ++j)
      if (live(j)) {
        float w[4];
        load4_weights(a.t[u].w_norm + col(j), w);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float v = normed(m[j][e], rstd, w[e]);
          amax[u] = fmaxf(amax[u], fabsf(v));
          if constexpr (N == 1) m[j][e] = v;  // m is not needed again: keep the normed value instead
        }
      }
  }
  row_reduce<W>(amax, FloatMax{}, max_scratch);
#pragma unroll
  for (int u = 0; u < N; ++u) {
    const float s = quant_scale(amax[u]), r = quotient_reciprocal(s);
    int8_t* __restrict__ q = Codes ? a.t[u].q + row * a.q_stride : nullptr;
    __nv_bfloat16* __restrict__ dq = a.t[u].dequantized ? a.t[u].dequantized + row * k : nullptr;
#pragma unroll
    for (int j = 0; j < kChunks; ++j)
      if (live(j)) {
        float v[4];
        if constexpr (N == 1) {
#pragma unroll
          for (int e = 0; e < 4; ++e) v[e] = m[j][e];
        } else {
          float w[4];
          load4_weights(a.t[u].w_norm + col(j), w);
#pragma unroll
          for (int e = 0; e < 4; ++e) v[e] = normed(m[j][e], rstd, w[e]);
        }
        // The codes, as ints and as floats (for dq). One target: by float additions (quant_code.h),
        // without the conversion unit. Several: by roundf and conversions, as the row kernel, which
        // measured faster there (H200, 8192 rows of 2048, 3 targets: 102.5 and 90.3 us a call, the
        // float additions 109.2 and 98.1 us; at one target they took 1-3% less).
        float c[4];
        int code[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if constexpr (N == 1) {
            c[e] = quant_code_float(v[e], s);
            code[e] = code_int(c[e]);
          } else {
            code[e] = quant_code(v[e], s);
            c[e] = static_cast<float>(code[e]);  // only where dq is set
          }
        }
        if constexpr (Codes) {
#pragma unroll
          for (int e = 0; e < 4; ++e) sum[u] += code[e];
          *reinterpret_cast<uint32_t*>(q + col(j)) = pack_codes(code);
        }
        if (dq) store_dequantized(dq + col(j), c, s, r);
      }
    if constexpr (Codes)
      for (int64_t p = chunks + t; p < a.q_stride / 4; p += T) reinterpret_cast<uint32_t*>(q)[p] = 0;  // the padding
  }
  if constexpr (Codes) row_reduce<W>(sum, IntSum{}, sum_scratch);
  if (t == 0)
#pragma unroll
    for (int u = 0; u < N; ++u) {
      a.t[u].scale[row] = quant_scale(amax[u]);
      if constexpr (Codes) a.t[u].sums[row] = sum[u];
    }
}

template <RowMode M, int N, int W, bool Codes>
void launch(const RowArgs& a, int64_t n, cudaStream_t s) {
  constexpr int rows = kThreads / (32 * W);
  launch_pdl("many-row quantising kernel", many_rows_kernel<M, N, W, Codes>,
             dim3(static_cast<unsigned>((n + rows - 1) / rows)), dim3(kThreads), 0, s, a, n);
}

// The fewest warps per row (a power of two) whose registers hold the row.
template <RowMode M, int N, bool Codes>
void launch_for_width(const RowArgs& a, int64_t n, cudaStream_t s) {
  const int warps = (a.k + kRowValues - 1) / kRowValues;
  if (warps <= 1) launch<M, N, 1, Codes>(a, n, s);
  else if (warps <= 2) launch<M, N, 2, Codes>(a, n, s);
  else if (warps <= 4) launch<M, N, 4, Codes>(a, n, s);
  else launch<M, N, 8, Codes>(a, n, s);
}

template <RowMode M>
void launch_for_targets(int targets, const RowArgs& a, int64_t n, cudaStream_t s) {
  switch (targets) {
    case 1: launch_for_width<M, 1, true>(a, n, s); break;
    case 2: launch_for_width<M, 2, true>(a, n, s); break;
    case 3: launch_for_width<M, 3, true>(a, n, s); break;
    default: launch_for_width<M, 4, true>(a, n, s); break;
  }
}

bool aligned(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Every row, weight and output that the kernel reads or writes 16 bytes at a time (8 for dequantized):
// the groups of 4 columns, and the targets' codes.
bool vector_aligned(int targets, const RowArgs& a) {
  bool ok = rows_in_groups_of_4(a) && a.q_stride % 16 == 0;
  for (int u = 0; u < targets; ++u) ok = ok && aligned(a.t[u].q, 16) && aligned(a.t[u].dequantized, 8);
  return ok;
}

}  // namespace

bool quantize_many_rows(RowMode mode, int targets, const RowArgs& a, int64_t n, cudaStream_t s) {
  if (mode == RowMode::GatedStep || targets < 1 || targets > kMaxQuantTargets || a.k > kMaxWarpsPerRow * kRowValues ||
      !vector_aligned(targets, a))
    return false;
  const bool codes = a.t[0].q != nullptr;  // launch_rows checked that every target agrees
  if (!codes) {
    if (mode != RowMode::Plain || targets != 1) return false;
    launch_for_width<RowMode::Plain, 1, false>(a, n, s);
    return true;
  }
  switch (mode) {
    case RowMode::Plain: launch_for_targets<RowMode::Plain>(targets, a, n, s); break;
    case RowMode::Gated: launch_for_targets<RowMode::Gated>(targets, a, n, s); break;
    default: launch_for_targets<RowMode::Glu>(targets, a, n, s); break;
  }
  return true;
}

}  // namespace mmfree::cuda
