#include "backend/cuda/elementwise.h"

#include <string>

#include "backend/cuda/launch.cuh"
#include "backend/cuda/mma_layout.h"
#include "backend/cuda/row_common.cuh"
#include "backend/cuda/row_kernel_many.cuh"
#include "backend/cuda/row_warps.cuh"
#include "backend/cuda/runtime.h"

namespace mmfree::cuda {
namespace {

// One block per row. At small batches a row's latency is the whole cost: many threads with 4 or 8
// values each, loops unrolled so that their loads are in flight together, one reduction for all
// targets; the kernel is bound by the instructions one SM issues, hence 16-byte loads and stores.
// From kManyRows rows (prefill) there are rows enough to fill the GPU: smaller blocks, more of them
// resident per SM.
constexpr int kRowThreads = 1024;  // a few-row block at most (the shared-memory loop over few rows: all of them)
constexpr int kManyRowThreads = 256;
constexpr int64_t kManyRows = 256;
constexpr int64_t kMaxRowSharedBytes = 200 * 1024;  // one row of m in shared memory (H100/H200: 227 KB per block)

// The maxima of the row kernel's |v|: non-negative floats that are never NaN (fmaxf from 0 drops
// NaN), whose bit patterns order as unsigned ints.
struct AbsMax {};

// Every lane of the warp gets op over the lanes' v[j]: a butterfly of shuffles for sums of doubles
// (each lane's sum grouped its own way: use one lane's), one redux instruction for int sums and
// for maxima (exact whatever the order): a decode row's 32 warps issue their shuffles through one
// SM (H200, 1024 threads, 3 int sums: 608 ns by shuffles, 288 ns by redux; docs/BENCHMARKS.md).
template <int N>
__device__ __forceinline__ void warp_reduce(double (&v)[N], DoubleSum op) {
#pragma unroll
  for (int j = 0; j < N; ++j)
    for (int o = 16; o > 0; o >>= 1) v[j] = op(v[j], __shfl_xor_sync(0xffffffffu, v[j], o));
}
template <int N>
__device__ __forceinline__ void warp_reduce(int (&v)[N], IntSum) {
#pragma unroll
  for (int j = 0; j < N; ++j) v[j] = __reduce_add_sync(0xffffffffu, v[j]);
}
template <int N>
__device__ __forceinline__ void warp_reduce(float (&v)[N], AbsMax) {
#pragma unroll
  for (int j = 0; j < N; ++j) v[j] = __uint_as_float(__reduce_max_sync(0xffffffffu, __float_as_uint(v[j])));
}

// Every thread of the block gets op over all threads' v[j] for each j < N, combined in one fixed
// order (so the result does not vary between runs or threads): each warp (warp_reduce), then every
// warp over the warps' results (the same operations in each), lane 0's result to all lanes (a
// butterfly of doubles groups each lane's sum its own way). One barrier (H200, 2.7B decode: 1,038-
// 1,069 tokens/s against 1,035-1,041 with warp 0 alone in the second stage and a second barrier to
// pass its result on); scratch (32 * N values) must not be used by another call in the same kernel.
template <int N, class T, class Op>
__device__ void block_reduce(T (&v)[N], Op op, T identity, T* scratch) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  warp_reduce(v, op);
  if (lane == 0)
#pragma unroll
    for (int j = 0; j < N; ++j) scratch[warp * N + j] = v[j];
  __syncthreads();
#pragma unroll
  for (int j = 0; j < N; ++j) v[j] = lane < warps ? scratch[lane * N + j] : identity;
  warp_reduce(v, op);
#pragma unroll
  for (int j = 0; j < N; ++j) v[j] = __shfl_sync(0xffffffffu, v[j], 0);
}

// 1 / sqrt(mean(x^2) + eps) from the block's partial sums of squares (in double, as model/ops.h).
__device__ float rstd_of(double partial, int k, float eps, double* scratch) {
  double ss[1] = {partial};
  block_reduce(ss, DoubleSum{}, 0.0, scratch);
  return rstd_from_sum(ss[0], k, eps);
}

// One MLGRU step of the CPU (kernels/elementwise.cpp mlgru_step_scalar), rounded as written there.
struct Gate {
  float fg, cv;  // h' = fg * h + cv
};
// lb: the channel's lower bound, when has_lb.
__device__ __forceinline__ Gate gate(float i, float f, bool has_lb, float lb) {
  float fg = sigmoid_f(f);
  if (has_lb) fg = __fadd_rn(lb, __fmul_rn(1.0f - lb, fg));
  return {fg, __fmul_rn(silu_f(i), 1.0f - fg)};
}
__device__ __forceinline__ float advance(Gate g, float h) { return __fadd_rn(__fmul_rn(g.fg, h), g.cv); }

// Columns a thread takes at once: with PER > 0 (few rows, every loop unrolled) 4 consecutive ones,
// each row's data 16-byte loads and stores and a target's 4 codes one 4-byte store (the launch
// guarantees k % 4 == 0 and 16-byte aligned rows); with PER = 0, one.
template <int PER>
constexpr int kGroup = PER > 0 ? 4 : 1;

// Calls f(j, c) for this thread's groups of kGroup<PER> columns c .. c + kGroup - 1 (limit a multiple
// of kGroup): j is the group's first value index (PER > 0: the unrolled registers' index), c its
// first column. Unrolled over PER / 4 groups when PER > 0 (the launch guarantees limit <= PER *
// blockDim.x), a loop otherwise.
template <int PER, class F>
__device__ __forceinline__ void for_cols(int limit, F f) {
  if constexpr (PER > 0) {
#pragma unroll
    for (int j = 0; j < PER; j += 4) {
      const int c = 4 * (threadIdx.x + (j / 4) * blockDim.x);
      if (c < limit) f(j, c);
    }
  } else {
    int j = 0;
#pragma unroll 4
    for (int c = threadIdx.x; c < limit; c += blockDim.x) f(j++, c);
  }
}

// A group's values of a row: G floats from p (16-byte loads for G = 4), and back.
template <int G>
__device__ __forceinline__ void load_group(const float* p, float (&v)[G]) {
  if constexpr (G == 4) load4(p, v);
  else v[0] = *p;
}
template <int G>
__device__ __forceinline__ void store_group(float* p, const float (&v)[G]) {
  if constexpr (G == 4) store4(p, v);
  else *p = v[0];
}

// A vector of the thread's columns that no kernel writes (norm weights, lower bounds): with Keep,
// in registers, loaded before the wait for the kernel before (so that it streams meanwhile); else
// read where used (w: the vector, from the kernel's parameters, which cost no registers).
template <int PER, bool Keep>
struct ColumnValues {
  float v[Keep ? PER : 1];
  __device__ __forceinline__ void load(const float* w, int k) {
    if constexpr (Keep)
#pragma unroll
      for (int j = 0; j < PER; j += 4) {
        const int c = 4 * (threadIdx.x + (j / 4) * blockDim.x);
        float g[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (w && c < k) load4_weights(w + c, g);
#pragma unroll
        for (int e = 0; e < 4; ++e) v[j + e] = g[e];
      }
  }
  // Value j of the thread's (column c).
  __device__ __forceinline__ float operator()(const float* w, int j, int c) const {
    if constexpr (Keep) return v[j];
    else return w[c];
  }
};

// Every loop gives a thread the same columns, so a thread reads back only the m values it wrote
// itself: the only barriers are the reductions' (one each). PER > 0 (few rows, latency-bound):
// m in registers and every loop unrolled; PER = 0 (many rows): m in shared memory.
template <RowMode M, int N, int PER>  // N: the number of targets
__global__ void __launch_bounds__(kRowThreads) row_kernel(const __grid_constant__ RowArgs a) {
  constexpr int G = kGroup<PER>;
  extern __shared__ float m_shared[];  // the row's m, k floats, when PER = 0
  float m_regs[PER > 0 ? PER : 1];
  auto m = [&](int j, int c) -> float& {
    if constexpr (PER > 0) return m_regs[j];
    else return m_shared[c];
  };
  __shared__ double pre_scratch[32], ss_scratch[32];
  __shared__ float max_scratch[32 * N];
  __shared__ int sum_scratch[32 * N];
  const int64_t row = blockIdx.x;
  const int k = a.k;
  float* __restrict__ x = a.x + row * a.ld;
  pdl_allow_next();
  // Up to 16 such values a thread: more would spill (1024 threads have 64 registers each).
  constexpr int kVectors = N + (M == RowMode::Glu ? 0 : 1) + (M == RowMode::GatedStep ? 1 : 0);
  constexpr bool kKeep = PER > 0 && PER * kVectors <= 16;
  ColumnValues<PER, kKeep> w_pre, lb, w_norm[N];
  w_pre.load(a.w_pre, k);
  if constexpr (M == RowMode::GatedStep) lb.load(a.lb, k);
#pragma unroll
  for (int t = 0; t < N; ++t) w_norm[t].load(a.t[t].w_norm, k);
  pdl_wait();

  double ss = 0;  // the sum of squares of m, this thread's part
  if constexpr (M == RowMode::Plain) {
    const float* __restrict__ add = a.add ? a.add + row * a.ld : nullptr;
    float* __restrict__ keep_x = a.keep.x ? a.keep.x + row * k : nullptr;
    for_cols<PER>(k, [&](int j, int c) {
      float v[G];
      load_group(x + c, v);
      if (add) {
        float r[G];
        load_group(add + c, r);
#pragma unroll
        for (int e = 0; e < G; ++e) v[e] = v[e] + r[e];
        store_group(x + c, v);
      }
      if (keep_x) store_group(keep_x + c, v);
#pragma unroll
      for (int e = 0; e < G; ++e) {
        m(j + e, c + e) = v[e];
        ss += static_cast<double>(v[e]) * v[e];
      }
    });
    if (a.w_pre) {  // m = RMSNorm(x) * w_pre (rmsnorm_rows)
      const float rstd = rstd_of(ss, k, a.eps, pre_scratch);
      ss = 0;
      for_cols<PER>(k, [&](int j, int c) {
#pragma unroll
        for (int e = 0; e < G; ++e) {
          const float v = m(j + e, c + e) * rstd * w_pre(a.w_pre, j + e, c + e);
          m(j + e, c + e) = v;
          ss += static_cast<double>(v) * v;
        }
      });
    }
  } else if constexpr (M == RowMode::GatedStep || M == RowMode::Gated) {
    // m = silu(h) before the norm's reduction, and g kept where m is (PER > 0): after it, only
    // multiplications are left (H200, 2.7B decode: 1,034-1,044 tokens/s against 1,025-1,028).
    float g_regs[PER > 0 ? PER : 1];
    float* __restrict__ state =
        M == RowMode::GatedStep ? a.states + (a.slots ? a.slots[row] : row) * a.slot_stride : nullptr;
    double gg = 0;
    for_cols<PER>(k, [&](int j, int c) {
      float g[G], h[G];
      load_group(x + c, g);
      if constexpr (M == RowMode::GatedStep) {
        float vi[G], vf[G];
        load_group(a.i + row * a.ld + c, vi);
        load_group(a.f + row * a.ld + c, vf);
        load_group(state + c, h);
#pragma unroll
        for (int e = 0; e < G; ++e)
          h[e] = advance(gate(vi[e], vf[e], a.lb != nullptr, a.lb ? lb(a.lb, j + e, c + e) : 0.0f), h[e]);
        store_group(state + c, h);
      } else {
        load_group(a.h + row * a.ld + c, h);
      }
#pragma unroll
      for (int e = 0; e < G; ++e) {
        gg += static_cast<double>(g[e]) * g[e];
        m(j + e, c + e) = silu_f(h[e]);
        if constexpr (PER > 0) g_regs[j + e] = g[e];
      }
    });
    const float rstd = rstd_of(gg, k, a.eps, pre_scratch);
    auto g_of = [&](int j, int c) {
      if constexpr (PER > 0) return g_regs[j];
      else return x[c];
    };
    for_cols<PER>(k, [&](int j, int c) {
#pragma unroll
      for (int e = 0; e < G; ++e) {
        const float v = m(j + e, c + e) * (g_of(j + e, c + e) * rstd * w_pre(a.w_pre, j + e, c + e));
        m(j + e, c + e) = v;
        ss += static_cast<double>(v) * v;
      }
    });
  } else {
    for_cols<PER>(k, [&](int j, int c) {
      float g[G], u[G];
      load_group(x + c, g);
      load_group(x + k + c, u);
#pragma unroll
      for (int e = 0; e < G; ++e) {
        const float v = silu_f(g[e]) * u[e];
        m(j + e, c + e) = v;
        ss += static_cast<double>(v) * v;
      }
    });
  }

  if (a.keep.m) {
    float* __restrict__ keep_m = a.keep.m + row * k;
    for_cols<PER>(k, [&](int j, int c) {
      float v[G];
#pragma unroll
      for (int e = 0; e < G; ++e) v[e] = m(j + e, c + e);
      store_group(keep_m + c, v);
    });
  }
  // rmsnorm_quantize_ref on m for each target (eps 1e-6: SPEC.md, BitLinear step 1), the targets'
  // maxima and sums each in one reduction.
  const float rstd = rstd_of(ss, k, 1e-6f, ss_scratch);
  float amax[N];
  int sum[N];
#pragma unroll
  for (int t = 0; t < N; ++t) {
    amax[t] = 0;
    sum[t] = 0;
  }
  for_cols<PER>(k, [&](int j, int c) {
#pragma unroll
    for (int e = 0; e < G; ++e) {
      const float u = m(j + e, c + e) * rstd;  // normed(m, rstd, w), left to right
#pragma unroll
      for (int t = 0; t < N; ++t) amax[t] = fmaxf(amax[t], fabsf(u * w_norm[t](a.t[t].w_norm, j + e, c + e)));
    }
  });
  block_reduce(amax, AbsMax{}, 0.0f, max_scratch);
#pragma unroll
  for (int t = 0; t < N; ++t) {
    const float s = quant_scale(amax[t]);
    int8_t* __restrict__ q = a.t[t].q ? a.t[t].q + row * a.q_stride : nullptr;
    __nv_bfloat16* __restrict__ dq = a.t[t].dequantized ? a.t[t].dequantized + row * k : nullptr;
    for_cols<PER>(static_cast<int>(a.q_stride), [&](int j, int c) {
      int v[G];
#pragma unroll
      for (int e = 0; e < G; ++e) {
        v[e] = 0;
        if (c + e < k) {
          const float u = normed(m(j + e, c + e), rstd, w_norm[t](a.t[t].w_norm, j + e, c + e));
          // By float additions (quant_code.h) this measured slower (H200, 2.7B decode: 976-988
          // tokens/s against 994-997).
          v[e] = quant_code(u, s);
        }
        if (dq && c + e < k) dq[c + e] = __float2bfloat16_rn(static_cast<float>(v[e]) / s);
        sum[t] += v[e];
      }
      if (q) {
        if constexpr (G == 4) *reinterpret_cast<uint32_t*>(q + c) = pack_codes(v);
        else q[c] = static_cast<int8_t>(v[0]);
      }
    });
  }
  const bool codes = a.t[0].q != nullptr;  // every target has codes and sums, or none
  if (codes) block_reduce(sum, IntSum{}, 0, sum_scratch);
  if (threadIdx.x == 0)
#pragma unroll
    for (int t = 0; t < N; ++t) {
      a.t[t].scale[row] = quant_scale(amax[t]);
      if (codes) a.t[t].sums[row] = sum[t];
    }
}

template <RowMode M, int N, int PER>
void launch_row_kernel(const RowArgs& a, int64_t n, int threads, cudaStream_t s) {
  const size_t shared = PER > 0 ? 0 : static_cast<size_t>(a.k) * sizeof(float);
  if constexpr (PER == 0) {
    static const bool raised = [] {  // once per kernel: rows of more than 48 KB of floats
      check(cudaFuncSetAttribute(row_kernel<M, N, 0>, cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxRowSharedBytes),
            "raise the shared memory limit");
      return true;
    }();
    (void)raised;
  }
  launch_pdl("row kernel", row_kernel<M, N, PER>, dim3(static_cast<unsigned>(n)), dim3(threads), shared, s, a);
}

// Few rows: one block a row, each thread one group of 4 columns (PER = 4) or two where the padded
// row has more than 4 * kRowThreads columns (PER = 8), and only as many threads (whole warps) as the
// groups need: idle threads would only add to the reductions (H200, 2.7B decode: 1,028-1,037
// tokens/s against 994-997 with 1024 threads a row; docs/BENCHMARKS.md). Rows too long for that or
// not in groups: the shared-memory loop; many rows: row_kernel_many.cu's kernel, or the
// shared-memory loop over 256 threads for rows it does not take.
template <RowMode M, int N>
void launch_row_kernels(const RowArgs& a, int64_t n, cudaStream_t s) {
  const int64_t groups = (a.q_stride + 4 * kRowThreads - 1) / (4 * kRowThreads);
  if (n >= kManyRows) {
    if (!quantize_many_rows(M, N, a, n, s)) launch_row_kernel<M, N, 0>(a, n, kManyRowThreads, s);
  }
  else if (groups > 2 || !rows_in_groups_of_4(a)) launch_row_kernel<M, N, 0>(a, n, kRowThreads, s);
  else {
    const int64_t want = (a.q_stride / 4 + groups - 1) / groups;
    const int threads = static_cast<int>((want + 31) / 32 * 32);
    if (groups == 1) launch_row_kernel<M, N, 4>(a, n, threads, s);
    else launch_row_kernel<M, N, 8>(a, n, threads, s);
  }
}

template <RowMode M>
void launch_rows(RowArgs a, int64_t n, int64_t k, std::span<const QuantTarget> targets, cudaStream_t s) {
  if (n <= 0) return;
  const int64_t shared = k * static_cast<int64_t>(sizeof(float));
  if (k <= 0 || shared > kMaxRowSharedBytes || targets.empty() || targets.size() > static_cast<size_t>(kMaxQuantTargets) ||
      a.q_stride % 16 != 0 || a.q_stride < padded_cols(k) || a.q_stride > INT32_MAX || n > INT32_MAX)
    throw Error("internal: cuda quantisation of " + std::to_string(n) + " x " + std::to_string(k) + " with q stride " +
                std::to_string(a.q_stride) + " and " + std::to_string(targets.size()) + " targets");
  a.k = static_cast<int>(k);
  const bool codes = targets[0].q != nullptr;
  for (size_t j = 0; j < targets.size(); ++j) {
    const QuantTarget& t = targets[j];
    const bool outputs = codes ? t.q && t.sums : !t.q && !t.sums && t.dequantized;
    if (!t.w_norm || !t.scale || !outputs || reinterpret_cast<uintptr_t>(t.q) % 16 != 0)
      throw Error("internal: cuda quantisation target " + std::to_string(j) + " unset or unaligned");
    a.t[j] = t;
  }
  switch (targets.size()) {
    case 1: launch_row_kernels<M, 1>(a, n, s); break;
    case 2: launch_row_kernels<M, 2>(a, n, s); break;
    case 3: launch_row_kernels<M, 3>(a, n, s); break;
    default: launch_row_kernels<M, 4>(a, n, s); break;
  }
}

// A block scans kScanChannels channels in up to kScanChunks chunks of time (1024 threads). Measured
// on the H200 at d = 2560, T = 2048: 118 us; 16 channels x 64 chunks (160 blocks) took 151 us.
constexpr int kScanChunks = 32;
constexpr int kScanChannels = 32;
// Steps whose loads a thread issues together. H200, 370M training step (B x d = 8 x 1024, T = 2048),
// paired: 2, 4 and (16 chunks) 8 within 1% of each other; 2 spills least at the 32 registers that two
// blocks an SM leave.
constexpr int kScanBatch = 2;

// Calls step(i, f) for the steps of a chunk in order (i, f: count rows ld apart), the loads of
// kScanBatch steps issued before the first of them runs: the steps depend on the state, the loads
// do not, and a thread keeps only one step's loads in flight otherwise (the scan was latency-bound).
template <class Step>
__device__ __forceinline__ void scan_steps(const float* __restrict__ i, const float* __restrict__ f, int64_t ld,
                                           int64_t count, Step step) {
  for (int64_t t = 0; t < count; t += kScanBatch, i += kScanBatch * ld, f += kScanBatch * ld) {
    float vi[kScanBatch], vf[kScanBatch];
#pragma unroll
    for (int j = 0; j < kScanBatch; ++j)
      if (t + j < count) {
        vi[j] = __ldg(i + j * ld);
        vf[j] = __ldg(f + j * ld);
      }
#pragma unroll
    for (int j = 0; j < kScanBatch; ++j)
      if (t + j < count) step(vi[j], vf[j]);
  }
}

// blockDim (kScanChannels channels, C chunks), grid (channel groups, B). Chunk 0 runs from the incoming state
// exactly; chunks j >= 1 first reduce to an affine map (A_j, B_j), thread (x, 0) chains the maps to
// each chunk's entry state, then chunks j >= 1 run exactly from their entry states. Two blocks an SM
// (the register bound): with one, B x d = 8192 channels took two waves on 132 SMs.
__global__ void __launch_bounds__(kScanChannels * kScanChunks, 2)
    mlgru_kernel(const float* __restrict__ in_i, const float* __restrict__ in_f, int64_t ld, const float* lb, int64_t T,
                 int64_t d, float* h, int64_t h_stride, float* __restrict__ h_out, int64_t out_ld, int64_t len) {
  __shared__ float map_a[kScanChunks][kScanChannels + 1], map_b[kScanChunks][kScanChannels + 1],
      entry[kScanChunks][kScanChannels + 1];
  pdl_allow_next();
  pdl_wait();
  const int x = threadIdx.x, ch = threadIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kScanChannels + x, b = blockIdx.y;
  const bool valid = c < d;
  const int64_t t0 = ch * len, t1 = min(T, t0 + len);
  const int64_t base = b * T;
  float state = valid ? h[b * h_stride + c] : 0.0f;
  const bool has_lb = lb != nullptr;
  const float lbc = has_lb && valid ? lb[c] : 0.0f;
  const int64_t count = t1 > t0 ? t1 - t0 : 0;
  const float *i = in_i + (base + t0) * ld + c, *f = in_f + (base + t0) * ld + c;
  float* out = h_out + (base + t0) * out_ld + c;
  const auto run = [&](float vi, float vf) {
    state = advance(gate(vi, vf, has_lb, lbc), state);
    *out = state;
    out += out_ld;
  };
  if (valid && ch == 0) {
    scan_steps(i, f, ld, count, run);
  } else if (valid && count > 0) {
    float A = 1.0f, Bm = 0.0f;
    scan_steps(i, f, ld, count, [&](float vi, float vf) {
      const Gate g = gate(vi, vf, has_lb, lbc);
      A = __fmul_rn(g.fg, A);
      Bm = advance(g, Bm);
    });
    map_a[ch][x] = A;
    map_b[ch][x] = Bm;
  }
  if (ch == 0) entry[1][x] = state;  // chunk 0's exact end state enters chunk 1
  __syncthreads();
  const int chunks = static_cast<int>((T + len - 1) / len);
  if (ch == 0)
    for (int j = 1; j + 1 < chunks; ++j) entry[j + 1][x] = __fadd_rn(__fmul_rn(map_a[j][x], entry[j][x]), map_b[j][x]);
  __syncthreads();
  if (valid && ch > 0 && count > 0) {
    state = entry[ch][x];
    scan_steps(i, f, ld, count, run);
  }
  if (valid && ch == chunks - 1) h[b * h_stride + c] = state;
}

__global__ void add_rows_kernel(float* x, int64_t x_ld, const float* y, int64_t y_ld, int64_t n, int64_t k) {
  pdl_allow_next();
  pdl_wait();
  const int64_t total = n * k;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / k, c = e % k;
    x[r * x_ld + c] += y[r * y_ld + c];
  }
}

}  // namespace

void norm_quantize(float* x, const float* add, int64_t x_ld, const float* w_pre, float eps, int64_t n, int64_t k,
                   std::span<const QuantTarget> targets, int64_t q_stride, cudaStream_t s, RowKeep keep) {
  if (x_ld < k) throw Error("internal: cuda norm_quantize row stride below k");
  RowArgs a{x, add, nullptr, x_ld, w_pre, eps, 0, q_stride, {}};
  a.keep = keep;
  launch_rows<RowMode::Plain>(a, n, k, targets, s);
}

void gated_norm_quantize(const float* g, const float* h, int64_t ld, const float* w_g, float eps, int64_t n, int64_t k,
                         std::span<const QuantTarget> targets, int64_t q_stride, cudaStream_t s, RowKeep keep) {
  if (ld < k || !w_g || !h) throw Error("internal: cuda gated_norm_quantize arguments");
  RowArgs a{const_cast<float*>(g), nullptr, h, ld, w_g, eps, 0, q_stride, {}};
  a.keep = {keep.m, nullptr};
  launch_rows<RowMode::Gated>(a, n, k, targets, s);
}

void mlgru_step_gated_quantize(const float* i, const float* f, const float* lb, float* states, const int32_t* slots,
                               int64_t slot_stride, const float* g, int64_t ld, const float* w_g, float eps, int64_t n,
                               int64_t k, std::span<const QuantTarget> targets, int64_t q_stride, cudaStream_t s) {
  if (ld < k || slot_stride < k || !i || !f || !states || !g || !w_g)
    throw Error("internal: cuda mlgru_step_gated_quantize arguments");
  RowArgs a{const_cast<float*>(g), nullptr, nullptr, ld, w_g, eps, 0, q_stride, {}};
  a.i = i;
  a.f = f;
  a.lb = lb;
  a.states = states;
  a.slots = slots;
  a.slot_stride = slot_stride;
  launch_rows<RowMode::GatedStep>(a, n, k, targets, s);
}

void glu_quantize(const float* gv, int64_t gv_ld, int64_t n, int64_t k, std::span<const QuantTarget> targets,
                  int64_t q_stride, cudaStream_t s, RowKeep keep) {
  if (gv_ld < 2 * k) throw Error("internal: cuda glu_quantize row stride below 2k");
  RowArgs a{const_cast<float*>(gv), nullptr, nullptr, gv_ld, nullptr, 0, 0, q_stride, {}};
  a.keep = {keep.m, nullptr};
  launch_rows<RowMode::Glu>(a, n, k, targets, s);
}

void mlgru_scan(const float* i, const float* f, int64_t ld, const float* lb, int64_t B, int64_t T, int64_t d, float* h,
                int64_t h_stride, float* h_out, int64_t out_ld, cudaStream_t s) {
  if (B <= 0 || T <= 0 || d <= 0) return;
  if (ld < d || out_ld < d || h_stride < d || B > 65535 || (d + kScanChannels - 1) / kScanChannels > INT32_MAX)
    throw Error("internal: cuda mlgru_scan shapes");
  const int chunks = static_cast<int>(std::min<int64_t>(kScanChunks, T));
  const int64_t len = (T + chunks - 1) / chunks;
  const dim3 grid(static_cast<unsigned>((d + kScanChannels - 1) / kScanChannels), static_cast<unsigned>(B)),
      block(kScanChannels, chunks);
  launch_pdl("mlgru_kernel", mlgru_kernel, grid, block, 0, s, i, f, ld, lb, T, d, h, h_stride, h_out, out_ld, len);
}

void add_rows(float* x, int64_t x_ld, const float* y, int64_t y_ld, int64_t n, int64_t k, cudaStream_t s) {
  if (n <= 0 || k <= 0) return;
  const int64_t blocks = std::min<int64_t>((n * k + 255) / 256, 4096);
  launch_pdl("add_rows_kernel", add_rows_kernel, dim3(static_cast<unsigned>(blocks)), dim3(256), 0, s, x, x_ld, y, y_ld, n, k);
}

}  // namespace mmfree::cuda
