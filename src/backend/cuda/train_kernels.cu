#include "backend/cuda/train_kernels.h"

#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <string>
#include <type_traits>

#include "backend/cuda/mma_layout.h"
#include "backend/cuda/row_warps.cuh"
#include "backend/cuda/runtime.h"
#include "util/error.h"

namespace mmfree::cuda {
namespace {

constexpr int kThreads = 256;  // every block-per-row kernel and the reductions: a fixed tree
// Kernels that hold a row in registers, or stream it, give thread t of kThreads the columns
// 4 (t + j kThreads) .. +3 (16-byte chunks j < kMaxRowChunks): rows of up to kMaxRowColumns.
constexpr int kMaxRowChunks = 8;
constexpr int kMaxRowColumns = kThreads * 4 * kMaxRowChunks;

// The host's sigmoidf/siluf (model/ops.h) on CUDA's expf (2 ulp).
__device__ __forceinline__ float exp_f(float x) { return expf(x); }
__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + exp_f(-x)); }
struct SiluAndGrad {
  float value, grad;
};
__device__ __forceinline__ SiluAndGrad silu_and_grad(float x) {
  const float s = sigmoid_f(x);
  return {x * s, s * (1.0f + x * (1.0f - s))};
}

// A result stored as float or rounded to bf16 (to nearest, even: to_bf16's rounding), for the
// passes that can write the bf16 backward GEMMs' operand straight away.
__device__ __forceinline__ void put(float* p, float v) { *p = v; }
__device__ __forceinline__ void put(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
__device__ __forceinline__ void put4(float* p, const float (&v)[4]) { store4(p, v); }
__device__ __forceinline__ void put4(__nv_bfloat16* p, const float (&v)[4]) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(v[0], v[1]), hi = __floats2bfloat162_rn(v[2], v[3]);
  uint2 u;
  memcpy(&u.x, &lo, 4);
  memcpy(&u.y, &hi, 4);
  *reinterpret_cast<uint2*>(p) = u;
}

// The block's sum (or max) of v over its kThreads threads in a fixed tree (within each warp, then
// over the warps' results); every thread gets the value of one lane (after a butterfly, lanes can
// differ in the last bit of a double sum). scratch: 33 values.
template <class T, class Op>
__device__ T block_all(T v, Op op, T* scratch) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T r = scratch[lane % (kThreads / 32)];
    for (int o = kThreads / 64; o > 0; o >>= 1) r = op(r, __shfl_xor_sync(0xffffffffu, r, o));
    if (lane == 0) scratch[32] = r;
  }
  __syncthreads();
  const T r = scratch[32];
  __syncthreads();  // scratch free for the next call
  return r;
}
struct Add {
  __device__ double operator()(double a, double b) const { return a + b; }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// 1 / sqrt(mean(x^2) + eps) of one row (rms_rstd), by the whole block.
// RMSNorm's 1 / sqrt(mean(x^2) + eps) from the row's sum of squares in double (model/ops.h rms_rstd).
__device__ __forceinline__ float rstd_of(double ss, int64_t k, float eps) {
  return 1.0f / sqrtf(static_cast<float>(ss / static_cast<double>(k)) + eps);
}
// ss += the squares of 4 values, in double.
__device__ __forceinline__ void add_squares(double& ss, const float (&v)[4]) {
#pragma unroll
  for (int e = 0; e < 4; ++e) ss += static_cast<double>(v[e]) * v[e];
}

__device__ float row_rstd(const float* x, int64_t k, float eps, double* scratch) {
  double ss = 0;
  for (int64_t i = threadIdx.x; i < k; i += kThreads) ss += static_cast<double>(x[i]) * x[i];
  return rstd_of(block_all(ss, Add{}, scratch), k, eps);
}

unsigned grid_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 64)); }
unsigned rows_grid(int64_t n) {
  if (n > INT32_MAX) throw Error("internal: cuda training kernel over too many rows");
  return static_cast<unsigned>(n);
}

__global__ void scale_from_abs_sum_kernel(const double* sum, int64_t count, float* s_w) {
  const float mean = static_cast<float>(*sum / static_cast<double>(count));
  *s_w = 1.0f / fmaxf(mean, 1e-5f);
}

// Where the code at bits 8j + 2l of word idx of the mma16 layout (mma_layout.h) belongs: tile
// (R, u) = idx / 128, lane = idx / 4 % 32, k-step kt = idx % 4. In 32-bit integers (the launches
// check words <= INT32_MAX): 64-bit divisions made these kernels instruction-bound.
struct MmaPosition {
  int r, c;
};
__device__ __forceinline__ MmaPosition mma_position(int idx, int units, int l, int j) {
  const int kt = idx % 4, lane = idx / 4 % 32, tile = idx / 128;
  return {tile / units * kTileRows + lane / 4 + 8 * (l & 1), tile % units * kTileCols + 32 * (lane % 4) + 8 * kt + 4 * (l >> 1) + j};
}
// The words of a matrix's mma16 codes, for kernels that index them with ints.
int64_t mma_words(int64_t rows, int64_t cols) {
  const int64_t words = mma_bytes(rows, cols) / 4;
  if (words > INT32_MAX) throw Error("internal: cuda ternary codes of " + std::to_string(rows) + " x " + std::to_string(cols) + " exceed 2^31 words");
  return words;
}

__global__ void ternary_codes_kernel(const float* latent, int64_t rows, int64_t cols, const float* s_w_dev, uint32_t* mma,
                                     int64_t words, int units) {
  const float s_w = *s_w_dev;
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < words; idx += int64_t{gridDim.x} * blockDim.x) {
    uint32_t word = 0;
    for (int l = 0; l < 4; ++l)
      for (int j = 0; j < 4; ++j) {
        const MmaPosition p = mma_position(static_cast<int>(idx), units, l, j);
        if (p.r >= rows || p.c >= cols) continue;  // padding: code 0
        const float v = latent[p.r * cols + p.c] * s_w;
        const int code = static_cast<int>(v > 0.5f) - static_cast<int>(v < -0.5f);
        word |= static_cast<uint32_t>(code + 1) << (8 * j + 2 * l);
      }
    mma[idx] = word;
  }
}

// Eight codes of one row, stored with one 16-byte (bf16) or two (float) stores where the row allows.
template <class Code>
struct alignas(16) EightCodes {
  Code v[8];
};

// A word holds two rows' runs of 8 consecutive columns (mma_position: l & 1 picks the row, 4 (l >> 1)
// + j the column): each is formed in registers and written as a whole.
template <class Code>
__global__ void codes_from_mma_kernel(const uint32_t* mma, int64_t rows, int64_t cols, int64_t words, int units,
                                      Code* codes) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < words; idx += int64_t{gridDim.x} * blockDim.x) {
    const uint32_t word = mma[idx];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const MmaPosition p = mma_position(static_cast<int>(idx), units, half, 0);
      if (p.r >= rows || p.c >= cols) continue;
      EightCodes<Code> e;
#pragma unroll
      for (int k = 0; k < 8; ++k) {
        const int l = half + 2 * (k >> 2), j = k & 3;
        e.v[k] = static_cast<Code>(static_cast<float>(static_cast<int>(word >> (8 * j + 2 * l) & 3u) - 1));
      }
      Code* dst = codes + p.r * cols + p.c;
      if (p.c + 8 <= cols && reinterpret_cast<uintptr_t>(dst) % 16 == 0) {
        *reinterpret_cast<EightCodes<Code>*>(dst) = e;
      } else {
        for (int k = 0; k < 8 && p.c + k < cols; ++k) dst[k] = e.v[k];
      }
    }
  }
}

template <SumOf W>
__global__ void partial_sums_kernel(const void* x, int64_t n, int64_t per_part, double* partial) {
  __shared__ double scratch[kThreads];
  const int64_t b = blockIdx.x * per_part, e = min(n, b + per_part);
  double acc = 0;
  for (int64_t i = b + threadIdx.x; i < e; i += kThreads) {
    if constexpr (W == SumOf::Doubles) {
      acc += static_cast<const double*>(x)[i];
    } else {
      const float v = static_cast<const float*>(x)[i];
      acc += W == SumOf::Abs ? static_cast<double>(fabsf(v)) : static_cast<double>(v) * v;
    }
  }
  acc = block_all(acc, Add{}, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void final_sum_kernel(const double* partial, int parts, double* out) {
  __shared__ double scratch[kThreads];
  const double v = static_cast<int>(threadIdx.x) < parts ? partial[threadIdx.x] : 0.0;
  const double r = block_all(v, Add{}, scratch);
  if (threadIdx.x == 0) *out = r;
}

__global__ void rmsnorm_rows_kernel(const float* x, const float* w, int64_t k, float eps, float* out) {
  __shared__ double scratch[kThreads];
  const float* xr = x + blockIdx.x * k;
  const float rstd = row_rstd(xr, k, eps, scratch);
  for (int64_t i = threadIdx.x; i < k; i += kThreads) out[blockIdx.x * k + i] = xr[i] * rstd * w[i];
}

__global__ void dequantize_kernel(const int8_t* q, int64_t q_stride, const float* s_x, int64_t k, float* xq) {
  const int64_t t = blockIdx.x;
  const float sx = s_x[t];
  for (int64_t i = threadIdx.x; i < k; i += kThreads) xq[t * k + i] = static_cast<float>(q[t * q_stride + i]) / sx;
}

__global__ void to_bf16_kernel(const float* x, int64_t n, __nv_bfloat16* y) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = __float2bfloat16_rn(x[i]);
}
// The same 8 values a thread: two 16-byte loads (streaming: dy is not read again) and one 16-byte
// store, for 16-byte aligned x and y.
__global__ void to_bf16_x8_kernel(const float4* x, int64_t groups, uint4* y) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < groups; i += int64_t{gridDim.x} * blockDim.x) {
    const float4 a = __ldcs(x + 2 * i), b = __ldcs(x + 2 * i + 1);
    const __nv_bfloat162 p[4] = {__floats2bfloat162_rn(a.x, a.y), __floats2bfloat162_rn(a.z, a.w),
                                 __floats2bfloat162_rn(b.x, b.y), __floats2bfloat162_rn(b.z, b.w)};
    uint4 v;
    memcpy(&v, p, sizeof v);
    y[i] = v;
  }
}

__global__ void form_input_kernel(FormKind kind, float* x, int64_t ld, const float* add, const float* h, const float* w,
                                  float eps, int64_t k, float* m, float* keep_x) {
  __shared__ double scratch[kThreads];
  const int64_t t = blockIdx.x;
  float* xr = x + t * ld;
  float* mr = m + t * k;
  if (kind == FormKind::Plain) {
    for (int64_t i = threadIdx.x; i < k; i += kThreads) mr[i] = xr[i];
    return;
  }
  if (kind == FormKind::Glu) {  // silu_mul: silu(a) * b
    for (int64_t i = threadIdx.x; i < k; i += kThreads) {
      const float a = xr[i];
      mr[i] = a / (1.0f + exp_f(-a)) * xr[k + i];
    }
    return;
  }
  if (kind == FormKind::Norm && add) {
    for (int64_t i = threadIdx.x; i < k; i += kThreads) xr[i] += add[t * ld + i];
    __syncthreads();  // the row's sums of squares read every thread's columns
  }
  if (keep_x)
    for (int64_t i = threadIdx.x; i < k; i += kThreads) keep_x[t * k + i] = xr[i];
  const float rstd = row_rstd(xr, k, eps, scratch);
  for (int64_t i = threadIdx.x; i < k; i += kThreads) {
    const float v = xr[i] * rstd * w[i];
    if (kind == FormKind::Norm) {
      mr[i] = v;
    } else {
      const float hv = h[t * ld + i];
      mr[i] = hv / (1.0f + exp_f(-hv)) * v;
    }
  }
}

// form_input_kernel for rows of up to kMaxRowColumns, k and ld multiples of 4, every array 16-byte
// aligned: the same float operations on each element, its loads and stores 16 bytes wide and a
// thread's loads of the row issued before it uses any (a scalar load each column left the memory
// half idle); Norm and Gated keep the row in registers across its sum of squares (added by thread,
// then the block's tree).
template <FormKind K>
__global__ void __launch_bounds__(kThreads)
    form_rows_kernel(float* __restrict__ x, int64_t ld, const float* __restrict__ add, const float* __restrict__ h,
                     const float* __restrict__ w, float eps, int k, float* __restrict__ m, float* __restrict__ keep_x) {
  const int64_t r = blockIdx.x;
  float* xr = x + r * ld;
  float* mr = m + r * k;
  const int t = threadIdx.x;
  auto live = [&](int j) { return 4 * (j * kThreads + t) < k; };
  auto col = [&](int j) { return 4 * (j * kThreads + t); };
  float v[kMaxRowChunks][4];
#pragma unroll
  for (int j = 0; j < kMaxRowChunks; ++j)
    if (live(j)) load4(xr + col(j), v[j]);
  if constexpr (K == FormKind::Plain) {
#pragma unroll
    for (int j = 0; j < kMaxRowChunks; ++j)
      if (live(j)) store4(mr + col(j), v[j]);
  } else if constexpr (K == FormKind::Glu) {  // silu_mul: silu(a) * b
    float b[kMaxRowChunks][4];
#pragma unroll
    for (int j = 0; j < kMaxRowChunks; ++j)
      if (live(j)) load4(xr + k + col(j), b[j]);
#pragma unroll
    for (int j = 0; j < kMaxRowChunks; ++j)
      if (live(j)) {
#pragma unroll
        for (int e = 0; e < 4; ++e) v[j][e] = v[j][e] / (1.0f + exp_f(-v[j][e])) * b[j][e];
        store4(mr + col(j), v[j]);
      }
  } else {
    __shared__ double scratch[kThreads];
    if (K == FormKind::Norm && add) {
#pragma unroll
      for (int j = 0; j < kMaxRowChunks; ++j)
        if (live(j)) {
          float a[4];
          load4(add + r * ld + col(j), a);
#pragma unroll
          for (int e = 0; e < 4; ++e) v[j][e] += a[e];
          store4(xr + col(j), v[j]);
        }
    }
    if (K == FormKind::Norm && keep_x) {
#pragma unroll
      for (int j = 0; j < kMaxRowChunks; ++j)
        if (live(j)) store4(keep_x + r * k + col(j), v[j]);
    }
    double ss = 0;
#pragma unroll
    for (int j = 0; j < kMaxRowChunks; ++j)
      if (live(j)) add_squares(ss, v[j]);
    const float rstd = rstd_of(block_all(ss, Add{}, scratch), k, eps);
#pragma unroll
    for (int j = 0; j < kMaxRowChunks; ++j)
      if (live(j)) {
        float wv[4];
        load4_weights(w + col(j), wv);
#pragma unroll
        for (int e = 0; e < 4; ++e) v[j][e] = v[j][e] * rstd * wv[e];
        if constexpr (K == FormKind::Gated) {
          float hv[4];
          load4(h + r * ld + col(j), hv);
#pragma unroll
          for (int e = 0; e < 4; ++e) v[j][e] = hv[e] / (1.0f + exp_f(-hv[e])) * v[j][e];
        }
        store4(mr + col(j), v[j]);
      }
  }
}

// dx of one row per block (rmsnorm_backward_range), rstd kept for the dw pass.
template <class Out>
__global__ void rmsnorm_dx_kernel(const float* x, const float* w, const float* dy, int64_t k, float eps, Out* dx,
                                  bool accumulate, float* rstd_out) {
  __shared__ double scratch[kThreads];
  const int64_t t = blockIdx.x;
  const float *xr = x + t * k, *dyr = dy + t * k;
  Out* dxr = dx + t * k;
  const float rstd = row_rstd(xr, k, eps, scratch);
  double dot = 0;
  for (int64_t i = threadIdx.x; i < k; i += kThreads) {
    const float xhat = xr[i] * rstd;
    dot += static_cast<double>(xhat) * w[i] * dyr[i];
  }
  dot = block_all(dot, Add{}, scratch);
  const float c = static_cast<float>(dot / static_cast<double>(k));
  for (int64_t i = threadIdx.x; i < k; i += kThreads) {
    const float g = (w[i] * dyr[i] - xr[i] * rstd * c) * rstd;
    if constexpr (std::is_same_v<Out, float>)
      dxr[i] = accumulate ? dxr[i] + g : g;
    else
      put(dxr + i, g);  // never accumulating (rmsnorm_backward)
  }
  if (threadIdx.x == 0) rstd_out[t] = rstd;
}

// partial[p][i] = the sum of dy[t][i] * xhat[t][i] over part p's kPartRows rows, in order.
__global__ void rmsnorm_dw_parts_kernel(const float* x, const float* dy, const float* rstd, int64_t n, int64_t k,
                                        float* partial) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= k) return;
  const int64_t t0 = blockIdx.y * kPartRows, t1 = min(n, t0 + kPartRows);
  float acc = 0;
  for (int64_t t = t0; t < t1; ++t) acc += dy[t * k + i] * (x[t * k + i] * rstd[t]);
  partial[blockIdx.y * k + i] = acc;
}

// rmsnorm_backward for rows of up to kMaxRowColumns columns (k % 4 == 0, rows 16-byte aligned). A
// block owns one part (part_rows consecutive rows, part_rows(n)) and takes its rows one after
// another, its kThreads threads sharing each row: thread t has columns 4 (t + j kThreads) .. +3,
// j < J. The rows stream through shared memory `stages` deep: each thread copies its own columns of
// the rows ahead (x, dy, and dx when accumulating) with cp.async, so that the next rows' loads are
// in flight while it works on this one (a row held in registers left the memory idle during its two
// sums). A thread reads back only what it copied itself: no barrier guards the buffers. The row's
// two double sums are shuffles and one barrier each (row_reduce); each column's dw terms are summed
// in registers in row order and written as the part's partial row. Each element's float
// operations are rmsnorm_backward_range's; its sums are ordered otherwise: the double sums by
// thread, butterfly, then warp, the float dw terms by part, then over the parts (add_parts).
constexpr int kMaxStages = 8;

__device__ __forceinline__ void copy16_async(float* dst, const float* src) {
  const auto d = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(d), "l"(src) : "memory");
}
__device__ __forceinline__ void copy_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
// Until at most `pending` (1 .. kMaxStages - 1) of this thread's copy groups are in flight.
__device__ __forceinline__ void copy_wait(int pending) {
  switch (pending) {
    case 1: asm volatile("cp.async.wait_group 1;" ::: "memory"); break;
    case 2: asm volatile("cp.async.wait_group 2;" ::: "memory"); break;
    case 3: asm volatile("cp.async.wait_group 3;" ::: "memory"); break;
    case 4: asm volatile("cp.async.wait_group 4;" ::: "memory"); break;
    case 5: asm volatile("cp.async.wait_group 5;" ::: "memory"); break;
    case 6: asm volatile("cp.async.wait_group 6;" ::: "memory"); break;
    default: asm volatile("cp.async.wait_group 7;" ::: "memory"); break;
  }
  static_assert(kMaxStages == 8);
}

// The G RMSNorms whose backwards one launch runs over the same x (the MLGRU's i, f, g read one
// input): norm weights, incoming gradients, and where each's dw partial rows go.
template <int G>
struct NormGroup {
  const float* w[G];
  const float* dy[G];
  float* partial[G];  // [parts][k] each
  // Gated (G = 1): dy[0] is dm, the gradient at m = silu(h) * RMSNorm(x) * w; the RMSNorm's own dy,
  // dm * silu(h), is formed as each row lands, and dh = dm * RMSNorm(x) * w * silu'(h) written
  // (gated_backward: gated_split's operations, without its d_normed rows in memory).
  const float* h = nullptr;
  float* dh = nullptr;
};

// G > 1: dx = (dx +) g_0 + g_1 + ... added in that order, each g the G = 1 kernel's value, so the
// bits of G calls one after another (the first writing or adding, the rest adding); x is read once.
template <int J, bool Accumulate, int G, class Out, bool Gated>
__global__ void __launch_bounds__(kThreads, J <= 2 && G == 1 ? 4 : 2)
    rmsnorm_back_rows_kernel(const float* __restrict__ x, const __grid_constant__ NormGroup<G> in, int64_t n, int k,
                             float eps, Out* __restrict__ dx, int part_rows, int stages) {
  static_assert(std::is_same_v<Out, float> || !Accumulate, "adds into float rows only");
  static_assert(!Gated || (G == 1 && !Accumulate));
  constexpr int kArrays = 1 + G + (Accumulate || Gated ? 1 : 0);  // a stage: the row's x, each dy (and dx, or h)
  extern __shared__ float4 shared4[];
  float* const w_s = reinterpret_cast<float*>(shared4);  // [G][k], then [stages][kArrays][k]
  float* const stage0 = w_s + G * k;
  // Two arrays: a warp writes one only after the row's barrier on the other (row_reduce).
  __shared__ double ss_scratch[kThreads / 32], dot_scratch[kThreads / 32 * G];
  const int t = threadIdx.x;
  auto live = [&](int j) { return 4 * (j * kThreads + t) < k; };
  auto col = [&](int j) { return 4 * (j * kThreads + t); };
  const int64_t r0 = blockIdx.x * int64_t{part_rows}, r1 = min(n, r0 + part_rows);
  auto fetch = [&](int64_t r, int slot) {
    if (r < r1) {
      float* s = stage0 + slot * kArrays * k;
#pragma unroll
      for (int j = 0; j < J; ++j)
        if (live(j)) {
          copy16_async(s + col(j), x + r * k + col(j));
#pragma unroll
          for (int g = 0; g < G; ++g) copy16_async(s + (1 + g) * k + col(j), in.dy[g] + r * k + col(j));
          if constexpr (Accumulate) copy16_async(s + (1 + G) * k + col(j), dx + r * k + col(j));
          if constexpr (Gated) copy16_async(s + 2 * k + col(j), in.h + r * k + col(j));
        }
    }
    copy_commit();  // one group a row (empty past the part): wait_group counts rows
  };
#pragma unroll
  for (int j = 0; j < J; ++j)
    if (live(j))
#pragma unroll
      for (int g = 0; g < G; ++g) copy16_async(w_s + g * k + col(j), in.w[g] + col(j));  // in the first row's group
  for (int i = 0; i + 1 < stages; ++i) fetch(r0 + i, i);
  float dw[G][J][4] = {};
  int slot = 0;
  for (int64_t r = r0; r < r1; ++r) {
    fetch(r + stages - 1, slot == 0 ? stages - 1 : slot - 1);  // the slot this thread read last row
    copy_wait(stages - 1);                                     // row r's group has landed
    float* const xs = stage0 + slot * kArrays * k;
    double ss[1] = {0};
#pragma unroll
    for (int j = 0; j < J; ++j)
      if (live(j)) {
        float xv[4];
        load4(xs + col(j), xv);
        add_squares(ss[0], xv);
      }
    row_reduce<kThreads / 32>(ss, Add{}, ss_scratch);
    const float rstd = rstd_of(ss[0], k, eps);
    if constexpr (Gated) {  // dm becomes dm * silu(h) in this thread's own columns of the stage
#pragma unroll
      for (int j = 0; j < J; ++j)
        if (live(j)) {
          float xv[4], dv[4], hv[4], wv[4], dhv[4];
          load4(xs + col(j), xv);
          load4(xs + k + col(j), dv);
          load4(xs + 2 * k + col(j), hv);
          load4(w_s + col(j), wv);
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const SiluAndGrad sh = silu_and_grad(hv[e]);
            const float nv = xv[e] * rstd * wv[e];
            dhv[e] = dv[e] * nv * sh.grad;
            dv[e] = dv[e] * sh.value;
          }
          store4(in.dh + r * k + col(j), dhv);
          store4(xs + k + col(j), dv);
        }
    }
    double dot[G];  // each g's sum of xhat * w * dy
#pragma unroll
    for (int g = 0; g < G; ++g) {
      dot[g] = 0;
#pragma unroll
      for (int j = 0; j < J; ++j)
        if (live(j)) {
          float xv[4], dv[4], wv[4];
          load4(xs + col(j), xv);
          load4(xs + (1 + g) * k + col(j), dv);
          load4(w_s + g * k + col(j), wv);
#pragma unroll
          for (int e = 0; e < 4; ++e) dot[g] += static_cast<double>(xv[e] * rstd) * wv[e] * dv[e];
        }
    }
    row_reduce<kThreads / 32>(dot, Add{}, dot_scratch);
#pragma unroll
    for (int j = 0; j < J; ++j)
      if (live(j)) {
        float xv[4], acc[4];
        load4(xs + col(j), xv);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          const float cf = static_cast<float>(dot[g] / static_cast<double>(k));
          float dv[4], wv[4];
          load4(xs + (1 + g) * k + col(j), dv);
          load4(w_s + g * k + col(j), wv);
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const float gv = (wv[e] * dv[e] - xv[e] * rstd * cf) * rstd;
            dw[g][j][e] += dv[e] * (xv[e] * rstd);
            acc[e] = g == 0 ? gv : acc[e] + gv;
          }
          if (g == 0 && Accumulate) {
            float old[4];
            load4(xs + (1 + G) * k + col(j), old);
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[e] = old[e] + acc[e];
          }
        }
        put4(dx + r * k + col(j), acc);
      }
    slot = slot + 1 == stages ? 0 : slot + 1;
  }
#pragma unroll
  for (int g = 0; g < G; ++g) {
    float* out = in.partial[g] + blockIdx.x * int64_t{k};
#pragma unroll
    for (int j = 0; j < J; ++j)
      if (live(j)) store4(out + col(j), dw[g][j]);
  }
}

// out[i] += the sum over p of partial[p][i], in a fixed order: kAddSums sums a column, sum v adding
// parts v, v + kAddSums, ... in order, then out[i] + sum 0 + ... + sum kAddSums - 1. A block has
// kAddColumns columns x kAddSums sums (a warp reads 32-byte runs of 4 parts), and a thread issues
// kAddBatch loads before adding them: 32 columns a block and one load at a time used a quarter of
// the SMs at k = 1024 and waited on every load.
constexpr int kAddSums = 8, kAddColumns = 8, kAddBatch = 8;
__global__ void add_parts_kernel(const float* partial, int64_t parts, int64_t k, float* out) {
  __shared__ float sums[kAddSums][kAddColumns];
  const int c = static_cast<int>(threadIdx.x) % kAddColumns, v = static_cast<int>(threadIdx.x) / kAddColumns;
  const int64_t i = blockIdx.x * int64_t{kAddColumns} + c;
  float acc = 0;
  if (i < k)
    for (int64_t p = v; p < parts; p += kAddSums * kAddBatch) {
      float batch[kAddBatch];
#pragma unroll
      for (int u = 0; u < kAddBatch; ++u) {
        const int64_t q = p + u * int64_t{kAddSums};
        batch[u] = q < parts ? partial[q * k + i] : 0.0f;
      }
#pragma unroll
      for (int u = 0; u < kAddBatch; ++u)
        if (p + u * int64_t{kAddSums} < parts) acc += batch[u];
    }
  sums[v][c] = acc;
  __syncthreads();
  if (v == 0 && i < k) {
    float r = out[i];
    for (int u = 0; u < kAddSums; ++u) r += sums[u][c];
    out[i] = r;
  }
}

__global__ void gated_split_kernel(const float* h, const float* g, const float* w, const float* dm, int64_t d, float eps,
                                   float* d_normed, float* dh) {
  __shared__ double scratch[kThreads];
  const int64_t t = blockIdx.x;
  const float rstd = row_rstd(g + t * d, d, eps, scratch);
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    const int64_t r = t * d + i;
    const float nv = g[r] * rstd * w[i];
    const SiluAndGrad sh = silu_and_grad(h[r]);
    d_normed[r] = dm[r] * sh.value;
    dh[r] = dm[r] * nv * sh.grad;
  }
}

// The GLU's gradient pair for one column: d gate, d v (HostBackend::glu_backward's operations).
struct GluPair {
  float gate, v;
};
__device__ __forceinline__ GluPair glu_pair(float gate, float v, float dz) {
  const SiluAndGrad sg = silu_and_grad(gate);
  return {dz * v * sg.grad, dz * sg.value};
}

template <class Out>
__global__ void glu_backward_kernel(const float* gv, const float* dm, int64_t n, int64_t I, Out* dgv) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < n * I; idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = idx / I, c = idx % I;
    const GluPair d = glu_pair(gv[t * 2 * I + c], gv[t * 2 * I + I + c], dm[idx]);
    put(dgv + t * 2 * I + c, d.gate);
    put(dgv + t * 2 * I + I + c, d.v);
  }
}
// The same, 4 columns a thread (I % 4 == 0, 16-byte aligned rows): three 16-byte streaming loads (gv
// and dz are not read again) in flight a thread, 32-bit indices (the launch checks n * I / 4 fits):
// the scalar kernel moved the bytes at 0.4-0.6x the probe's rate on the H200.
template <class Out>
__global__ void glu_backward_x4_kernel(const float4* gv, const float4* dm, uint32_t n, uint32_t groups, Out* dgv) {
  for (uint32_t idx = blockIdx.x * blockDim.x + threadIdx.x; idx < n * groups; idx += gridDim.x * blockDim.x) {
    const uint32_t t = idx / groups, c = idx % groups;
    const int64_t at = int64_t{2} * t * groups + c;  // 2 n groups may pass 2^32
    const float4 a = __ldcs(gv + at), b = __ldcs(gv + at + groups), z = __ldcs(dm + idx);
    const GluPair d[4] = {glu_pair(a.x, b.x, z.x), glu_pair(a.y, b.y, z.y), glu_pair(a.z, b.z, z.z), glu_pair(a.w, b.w, z.w)};
    const float dg[4] = {d[0].gate, d[1].gate, d[2].gate, d[3].gate}, dv[4] = {d[0].v, d[1].v, d[2].v, d[3].v};
    Out* row = dgv + at * 4;
    put4(row, dg);
    put4(row + int64_t{groups} * 4, dv);
  }
}

// The scan backward in chunks of kScanChunk steps (HostBackend::mlgru_scan_backward's arithmetic):
// dh_t = dh_in_t + carry_t with carry_t = f_{t+1} dh_{t+1} is linear in the carry that enters a
// chunk, so each chunk first runs with no carry (its carry out and the product of its f), a pass
// per channel then chains the chunks' carries in time order, and each chunk runs again from its
// true carry. Thread (b, chunk, c); its index is (b * chunks + chunk) * d + c.
struct Forget {
  float f, sg;
};
__device__ __forceinline__ Forget forget_gate(float f_lin, const float* lb, float l) {
  const float sg = sigmoid_f(f_lin);
  return {lb ? l + (1.0f - l) * sg : sg, sg};
}

// Steps of a chunk whose loads a thread issues together before running them (the loads do not depend
// on the carry; as the forward scan's kScanBatch). Same operations in the same order.
constexpr int kBackBatch = 4;

__global__ void scan_back_local_kernel(const float* f_lin, const float* lb, const float* dh_in, int64_t B, int64_t T,
                                       int64_t d, int64_t chunks, float* carry, float* fprod) {
  const int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (idx >= B * chunks * d) return;
  const int64_t c = idx % d, j = idx / d % chunks, b = idx / (d * chunks);
  const int64_t t0 = j * kScanChunk, t1 = min(T, t0 + kScanChunk);
  const float l = lb ? lb[c] : 0.0f;
  float cr = 0, F = 1;
  for (int64_t t = t1 - 1; t >= t0; t -= kBackBatch) {
    float vf[kBackBatch], vd[kBackBatch];
#pragma unroll
    for (int s = 0; s < kBackBatch; ++s)
      if (t - s >= t0) {
        const int64_t r = (b * T + t - s) * d + c;
        vf[s] = f_lin[r];
        vd[s] = dh_in[r];
      }
#pragma unroll
    for (int s = 0; s < kBackBatch; ++s)
      if (t - s >= t0) {
        const float f = forget_gate(vf[s], lb, l).f;
        cr = (vd[s] + cr) * f;
        F *= f;
      }
  }
  carry[idx] = cr;
  fprod[idx] = F;
}

// carry[(b, j)] becomes the carry entering chunk j from the chunks after it.
__global__ void scan_back_chain_kernel(int64_t B, int64_t d, int64_t chunks, float* carry, const float* fprod) {
  const int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (idx >= B * d) return;
  const int64_t c = idx % d, b = idx / d;
  float in = 0;
  for (int64_t j = chunks - 1; j >= 0; --j) {
    const int64_t q = (b * chunks + j) * d + c;
    const float out = carry[q] + fprod[q] * in;
    carry[q] = in;
    in = out;
  }
}

template <class Out>
__global__ void scan_back_kernel(const float* in_i, const float* f_lin, const float* h, const float* lb,
                                 const float* dh_in, int64_t B, int64_t T, int64_t d, int64_t chunks, const float* carry,
                                 Out* di, Out* df_lin, float* dlb_part) {
  const int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (idx >= B * chunks * d) return;
  const int64_t c = idx % d, j = idx / d % chunks, b = idx / (d * chunks);
  const int64_t t0 = j * kScanChunk, t1 = min(T, t0 + kScanChunk);
  const float l = lb ? lb[c] : 0.0f;
  float cr = carry[idx], dlb_acc = 0;
  for (int64_t t = t1 - 1; t >= t0; t -= kBackBatch) {
    // A batch's inputs are read before its outputs are written: no output row is written before a
    // read of it that one step at a time made first.
    float vi[kBackBatch], vf[kBackBatch], vh[kBackBatch], vd[kBackBatch];
#pragma unroll
    for (int s = 0; s < kBackBatch; ++s)
      if (t - s >= t0) {
        const int64_t r = (b * T + t - s) * d + c;
        vi[s] = in_i[r];
        vf[s] = f_lin[r];
        vh[s] = t - s > 0 ? h[r - d] : 0.0f;
        vd[s] = dh_in[r];
      }
#pragma unroll
    for (int s = 0; s < kBackBatch; ++s)
      if (t - s >= t0) {
        const int64_t r = (b * T + t - s) * d + c;
        const float dh = vd[s] + cr;
        const Forget fg = forget_gate(vf[s], lb, l);
        const SiluAndGrad si = silu_and_grad(vi[s]);
        const float df = dh * (vh[s] - si.value);
        put(di + r, dh * (1.0f - fg.f) * si.grad);
        put(df_lin + r, df * (lb ? 1.0f - l : 1.0f) * fg.sg * (1.0f - fg.sg));
        if (lb) dlb_acc += df * (1.0f - fg.sg);
        cr = dh * fg.f;
      }
  }
  if (lb) dlb_part[idx] = dlb_acc;
}

__global__ void iota_kernel(int32_t* v, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    v[i] = static_cast<int32_t>(i);
}

// Block p: when sorted position p starts a run of one token, that token's rows (in row order, as
// the sort is stable) added into its table row: ref's order of additions.
__global__ void embed_runs_kernel(const int32_t* sorted_tokens, const int32_t* rows, const float* dx, int64_t n, int64_t d,
                                  float* dtable) {
  const int64_t p = blockIdx.x;
  const int32_t tok = sorted_tokens[p];
  if (p > 0 && sorted_tokens[p - 1] == tok) return;
  float* out = dtable + static_cast<int64_t>(tok) * d;
  for (int64_t c = threadIdx.x; c < d; c += kThreads) {
    float acc = out[c];
    for (int64_t q = p; q < n && sorted_tokens[q] == tok; ++q) acc += dx[static_cast<int64_t>(rows[q]) * d + c];
    out[c] = acc;
  }
}

// softmax_nll_row, one row per block.
__global__ void cross_entropy_kernel(float* logits, const int32_t* labels, int64_t V, float coef, double* nll) {
  __shared__ double scratch[kThreads];
  __shared__ float fscratch[kThreads];
  const int64_t r = blockIdx.x;
  float* z = logits + r * V;
  const int64_t label = labels[r];
  if (label < 0) {  // unlabelled: no loss, no gradient
    for (int64_t v = threadIdx.x; v < V; v += kThreads) z[v] = 0.0f;
    if (threadIdx.x == 0) nll[r] = 0;
    return;
  }
  float mx = -INFINITY;
  for (int64_t v = threadIdx.x; v < V; v += kThreads) mx = fmaxf(mx, z[v]);
  mx = block_all(mx, Max{}, fscratch);
  const float z_label = z[label];
  __syncthreads();  // z_label read before any thread overwrites it
  double sum = 0;
  for (int64_t v = threadIdx.x; v < V; v += kThreads) sum += z[v] = exp_f(z[v] - mx);
  sum = block_all(sum, Add{}, scratch);
  const float scale = static_cast<float>(coef / sum);
  for (int64_t v = threadIdx.x; v < V; v += kThreads) {
    const float g = z[v] * scale;
    z[v] = v == label ? g - coef : g;
  }
  if (threadIdx.x == 0) nll[r] = static_cast<double>(mx) + log(sum) - static_cast<double>(z_label);
}

// One parameter's update, PyTorch's AdamW order (AdamWUpdate).
__device__ __forceinline__ void adamw_step(const AdamWArgs& a, float g_in, float& p, float& m, float& v) {
  const float g = g_in * a.grad_scale;
  if (a.decay != 1.0f) p *= a.decay;
  m += a.one_minus_b1 * (g - m);
  v = v * a.b2 + a.one_minus_b2 * g * g;
  const float denom = sqrtf(v) / a.bc2_sqrt + a.eps;
  p += (-a.step_size * m) / denom;
}
__global__ void adamw_kernel(const AdamWArgs a) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < a.n; i += int64_t{gridDim.x} * blockDim.x) {
    float p = a.p[i], m = a.m[i], v = a.v[i];
    adamw_step(a, a.g[i], p, m, v);
    a.p[i] = p;
    a.m[i] = m;
    a.v[i] = v;
  }
}
// The same updates 4 parameters a thread with 16-byte loads and stores (16-byte aligned arrays,
// groups = n / 4): nothing is read again before the next step, so everything streams.
__global__ void adamw_x4_kernel(const AdamWArgs a, int64_t groups) {
  auto* p4 = reinterpret_cast<float4*>(a.p);
  auto* m4 = reinterpret_cast<float4*>(a.m);
  auto* v4 = reinterpret_cast<float4*>(a.v);
  const auto* g4 = reinterpret_cast<const float4*>(a.g);
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < groups; i += int64_t{gridDim.x} * blockDim.x) {
    float4 p = __ldcs(p4 + i), m = __ldcs(m4 + i), v = __ldcs(v4 + i);
    const float4 g = __ldcs(g4 + i);
    adamw_step(a, g.x, p.x, m.x, v.x);
    adamw_step(a, g.y, p.y, m.y, v.y);
    adamw_step(a, g.z, p.z, m.z, v.z);
    adamw_step(a, g.w, p.w, m.w, v.w);
    __stcs(p4 + i, p);
    __stcs(m4 + i, m);
    __stcs(v4 + i, v);
  }
}

}  // namespace

void scale_from_abs_sum(const double* sum, int64_t count, float* s_w, cudaStream_t s) {
  scale_from_abs_sum_kernel<<<1, 1, 0, s>>>(sum, count, s_w);
  check_launch("scale_from_abs_sum_kernel");
}

void ternary_codes(const float* latent, int64_t rows, int64_t cols, const float* s_w, uint8_t* mma, cudaStream_t s) {
  const int64_t words = mma_words(rows, cols);
  ternary_codes_kernel<<<grid_for(words), kThreads, 0, s>>>(latent, rows, cols, s_w, reinterpret_cast<uint32_t*>(mma), words,
                                                          static_cast<int>(col_units(cols)));
  check_launch("ternary_codes_kernel");
}

template <class Code>
void codes_from_mma(const uint8_t* mma, int64_t rows, int64_t cols, Code* codes, cudaStream_t s) {
  const int64_t words = mma_words(rows, cols);
  codes_from_mma_kernel<<<grid_for(words), kThreads, 0, s>>>(reinterpret_cast<const uint32_t*>(mma), rows, cols, words,
                                                           static_cast<int>(col_units(cols)), codes);
  check_launch("codes_from_mma_kernel");
}
template void codes_from_mma<float>(const uint8_t*, int64_t, int64_t, float*, cudaStream_t);
template void codes_from_mma<__nv_bfloat16>(const uint8_t*, int64_t, int64_t, __nv_bfloat16*, cudaStream_t);

void reduce_into(const void* x, int64_t n, SumOf what, double* partial, double* out, cudaStream_t s) {
  const int64_t per_part = std::max<int64_t>(1, (n + kReduceParts - 1) / kReduceParts);
  const int parts = static_cast<int>(std::max<int64_t>(1, (n + per_part - 1) / per_part));
  switch (what) {
    case SumOf::Abs: partial_sums_kernel<SumOf::Abs><<<parts, kThreads, 0, s>>>(x, n, per_part, partial); break;
    case SumOf::Squares: partial_sums_kernel<SumOf::Squares><<<parts, kThreads, 0, s>>>(x, n, per_part, partial); break;
    case SumOf::Doubles: partial_sums_kernel<SumOf::Doubles><<<parts, kThreads, 0, s>>>(x, n, per_part, partial); break;
  }
  check_launch("partial_sums_kernel");
  final_sum_kernel<<<1, kThreads, 0, s>>>(partial, parts, out);
  check_launch("final_sum_kernel");
}

void rmsnorm_rows(const float* x, const float* w, int64_t n, int64_t k, float eps, float* out, cudaStream_t s) {
  if (n <= 0) return;
  rmsnorm_rows_kernel<<<rows_grid(n), kThreads, 0, s>>>(x, w, k, eps, out);
  check_launch("rmsnorm_rows_kernel");
}

void dequantize_rows(const int8_t* q, int64_t q_stride, const float* s_x, int64_t n, int64_t k, float* xq, cudaStream_t s) {
  if (n <= 0) return;
  dequantize_kernel<<<rows_grid(n), kThreads, 0, s>>>(q, q_stride, s_x, k, xq);
  check_launch("dequantize_kernel");
}

void to_bf16(const float* x, int64_t n, __nv_bfloat16* y, cudaStream_t s) {
  if (n <= 0) return;
  int64_t done = 0;
  if (reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0 && n >= 8) {
    const int64_t groups = n / 8;
    to_bf16_x8_kernel<<<grid_for(groups), kThreads, 0, s>>>(reinterpret_cast<const float4*>(x), groups,
                                                           reinterpret_cast<uint4*>(y));
    check_launch("to_bf16_x8_kernel");
    done = groups * 8;
  }
  if (done == n) return;
  to_bf16_kernel<<<grid_for(n - done), kThreads, 0, s>>>(x + done, n - done, y + done);
  check_launch("to_bf16_kernel");
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

void form_input(FormKind kind, float* x, int64_t ld, const float* add, const float* h, const float* w, float eps, int64_t n,
                int64_t k, float* m, float* keep_x, cudaStream_t s) {
  if (n <= 0) return;
  const auto fits = [](const void* p) { return !p || aligned16(p); };  // arrays the kind leaves unset too
  const bool rows = k <= kMaxRowColumns && k % 4 == 0 && ld % 4 == 0 && aligned16(x) && aligned16(m) && fits(add) &&
                    fits(h) && fits(w) && fits(keep_x);
  if (!rows) {
    form_input_kernel<<<rows_grid(n), kThreads, 0, s>>>(kind, x, ld, add, h, w, eps, k, m, keep_x);
    check_launch("form_input_kernel");
    return;
  }
  const auto launch = [&](auto kernel) {
    kernel<<<rows_grid(n), kThreads, 0, s>>>(x, ld, add, h, w, eps, static_cast<int>(k), m, keep_x);
    check_launch("form_rows_kernel");
  };
  switch (kind) {
    case FormKind::Plain: launch(form_rows_kernel<FormKind::Plain>); break;
    case FormKind::Norm: launch(form_rows_kernel<FormKind::Norm>); break;
    case FormKind::Gated: launch(form_rows_kernel<FormKind::Gated>); break;
    case FormKind::Glu: launch(form_rows_kernel<FormKind::Glu>); break;
  }
}


void add_parts(const float* partial, int64_t parts, int64_t k, float* out, cudaStream_t s) {
  add_parts_kernel<<<static_cast<unsigned>((k + kAddColumns - 1) / kAddColumns), kAddSums * kAddColumns, 0, s>>>(
      partial, parts, k, out);
  check_launch("add_parts_kernel");
}

int64_t part_rows(int64_t n) { return std::clamp<int64_t>((n + kMinParts - 1) / kMinParts, 1, kPartRows); }
int64_t row_parts(int64_t n) { return n <= kMinParts ? n : std::max(kMinParts, (n + kPartRows - 1) / kPartRows); }

// The parts (blocks) of a streamed launch over n rows, each with its partial dw row.
int64_t streamed_parts(int64_t n) { return (n + part_rows(n) - 1) / part_rows(n); }

// How deep a launch of rmsnorm_back_rows_kernel streams its rows, in stages of stage_bytes, beside
// fixed_bytes a block holds anyway (its w_bytes of weights, dynamic like the stages, and its static
// arrays): as deep as the shared memory of b blocks an SM allows, b as many as the parts fill (at
// most `most`), fewer where a block would get less than two stages. Only the speed depends on it,
// never the result.
struct Streaming {
  int stages;
  size_t shared;
};
Streaming streaming(int64_t parts, int64_t rows, size_t stage_bytes, size_t fixed_bytes, size_t w_bytes, int most) {
  int dev = 0, sms = 0, per_sm = 0, per_block = 0, reserved = 0;
  check(cudaGetDevice(&dev), "current device");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "SM count");
  check(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev), "shared memory an SM");
  check(cudaDeviceGetAttribute(&per_block, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "shared memory a block");
  check(cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, dev), "reserved shared memory");
  const size_t fixed = fixed_bytes + static_cast<size_t>(reserved);
  const int64_t useful = std::min<int64_t>(kMaxStages, rows + 1);
  for (int b = static_cast<int>(std::clamp<int64_t>((parts + sms - 1) / sms, 1, most)); b >= 1; --b) {
    const size_t room = std::min<size_t>(static_cast<size_t>(per_sm) / b, static_cast<size_t>(per_block) + reserved);
    const int64_t fit = room > fixed ? static_cast<int64_t>((room - fixed) / stage_bytes) : 0;
    if (fit >= 2 || b == 1) {
      const int stages = static_cast<int>(std::clamp<int64_t>(fit, 2, useful));
      return {stages, w_bytes + stages * stage_bytes};
    }
  }
  return {};  // not reached: b == 1 returns
}

template <int J, bool Accumulate, int G, class Out, bool Gated = false>
void launch_rmsnorm_back_rows(const float* x, const NormGroup<G>& in, int64_t n, int k, float eps, Out* dx,
                              cudaStream_t s) {
  const auto kernel = rmsnorm_back_rows_kernel<J, Accumulate, G, Out, Gated>;
  // Once per kernel: the stages may take the whole opt-in limit less the kernel's static arrays (a
  // dynamic limit of the whole opt-in is refused).
  static const size_t static_bytes = [&] {
    cudaFuncAttributes a{};
    check(cudaFuncGetAttributes(&a, kernel), "rmsnorm_back_rows_kernel's attributes");
    int dev = 0, per_block = 0;
    check(cudaGetDevice(&dev), "current device");
    check(cudaDeviceGetAttribute(&per_block, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "shared memory a block");
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, per_block - static_cast<int>(a.sharedSizeBytes)),
          "raise the shared memory limit");
    return a.sharedSizeBytes;
  }();
  const int64_t rows = part_rows(n), parts = streamed_parts(n);
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(k);
  const Streaming st = streaming(parts, rows, (1 + G + (Accumulate || Gated ? 1 : 0)) * row_bytes, G * row_bytes + static_bytes,
                                 G * row_bytes, J <= 2 && G == 1 ? 4 : 2);
  kernel<<<static_cast<unsigned>(parts), kThreads, st.shared, s>>>(x, in, n, k, eps, dx, static_cast<int>(rows), st.stages);
  check_launch("rmsnorm_back_rows_kernel");
}

// launch_rmsnorm_back_rows for rows of k columns: J the chunks of 16 bytes a thread needs (1, 2, 4,
// or 8 where MaxJ allows; callers keep k within MaxJ), adding into dx where accumulate says (float
// rows that are not Gated's only).
template <int MaxJ, bool Gated = false, int G, class Out>
void launch_streamed(const float* x, const NormGroup<G>& in, int64_t n, int k, float eps, Out* dx, bool accumulate,
                     cudaStream_t s) {
  auto at = [&]<int J>(std::integral_constant<int, J>) {
    if constexpr (std::is_same_v<Out, float> && !Gated) {
      if (accumulate) return launch_rmsnorm_back_rows<J, true, G, Out>(x, in, n, k, eps, dx, s);
    }
    launch_rmsnorm_back_rows<J, false, G, Out, Gated>(x, in, n, k, eps, dx, s);
  };
  const int chunks = (k + 4 * kThreads - 1) / (4 * kThreads);
  if (chunks <= 1) at(std::integral_constant<int, 1>{});
  else if (chunks <= 2) at(std::integral_constant<int, 2>{});
  else if (MaxJ == 4 || chunks <= 4) at(std::integral_constant<int, 4>{});
  else if constexpr (MaxJ == 8) at(std::integral_constant<int, 8>{});
}

bool streams_rows(const float* x, const void* dx, int64_t k, int64_t max_k) {
  return k <= max_k && k % 4 == 0 && aligned16(x) && aligned16(dx);
}

template <class Out>
void rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, Out* dx,
                      bool accumulate, float* dw, float* rstd, float* partial, cudaStream_t s) {
  if (n <= 0) return;
  if (!std::is_same_v<Out, float> && accumulate) throw Error("internal: rmsnorm_backward adds into float rows only");
  if (row_parts(n) > INT32_MAX) throw Error("internal: rmsnorm_backward over too many rows");
  // Rows of up to 8 chunks of 16 bytes a thread (the 2.7B model's GLU has 6912 columns), streamed.
  if (streams_rows(x, dx, k, kMaxRowColumns) && aligned16(w) && aligned16(dy) && aligned16(partial)) {
    launch_streamed<8>(x, NormGroup<1>{{w}, {dy}, {partial}}, n, static_cast<int>(k), eps, dx, accumulate, s);
    add_parts(partial, streamed_parts(n), k, dw, s);
    return;
  }
  // Other rows: dx a row per block, then dw's parts of kPartRows rows from the kept rstd.
  rmsnorm_dx_kernel<<<rows_grid(n), kThreads, 0, s>>>(x, w, dy, k, eps, dx, accumulate, rstd);
  check_launch("rmsnorm_dx_kernel");
  const int64_t parts = (n + kPartRows - 1) / kPartRows;
  if (parts > 65535) throw Error("internal: rmsnorm_backward over too many rows");
  rmsnorm_dw_parts_kernel<<<dim3(grid_for(k), static_cast<unsigned>(parts)), kThreads, 0, s>>>(x, dy, rstd, n, k, partial);
  check_launch("rmsnorm_dw_parts_kernel");
  add_parts(partial, parts, k, dw, s);
}
template void rmsnorm_backward<float>(const float*, const float*, const float*, int64_t, int64_t, float, float*, bool,
                                      float*, float*, float*, cudaStream_t);
template void rmsnorm_backward<__nv_bfloat16>(const float*, const float*, const float*, int64_t, int64_t, float,
                                              __nv_bfloat16*, bool, float*, float*, float*, cudaStream_t);

void rmsnorm_backward_group(const float* x, std::span<const NormBackward> norms, int64_t n, int64_t k, float eps,
                            float* dx, bool accumulate, float* rstd, float* partial, cudaStream_t s) {
  if (n <= 0 || norms.empty()) return;
  const int64_t parts = streamed_parts(n);
  bool aligned = aligned16(partial) && (parts * k) % 4 == 0;
  for (const NormBackward& g : norms) aligned = aligned && aligned16(g.w) && aligned16(g.dy);
  // Two or three norms over rows of up to 4 chunks a thread in one pass (the MLGRU's i, f, g at d up
  // to 4096); anything else one norm after another, with the same bits.
  if (norms.size() == 1 || norms.size() > 3 || !aligned || !streams_rows(x, dx, k, 4 * 4 * kThreads) ||
      row_parts(n) > INT32_MAX) {
    for (size_t g = 0; g < norms.size(); ++g)
      rmsnorm_backward(x, norms[g].w, norms[g].dy, n, k, eps, dx, accumulate || g > 0, norms[g].dw, rstd, partial, s);
    return;
  }
  auto run = [&]<int G>(std::integral_constant<int, G>) {
    NormGroup<G> in{};
    for (int g = 0; g < G; ++g) {
      in.w[g] = norms[g].w;
      in.dy[g] = norms[g].dy;
      in.partial[g] = partial + g * parts * k;
    }
    launch_streamed<4>(x, in, n, static_cast<int>(k), eps, dx, accumulate, s);
  };
  if (norms.size() == 2) run(std::integral_constant<int, 2>{});
  else run(std::integral_constant<int, 3>{});
  for (size_t g = 0; g < norms.size(); ++g) add_parts(partial + static_cast<int64_t>(g) * parts * k, parts, k, norms[g].dw, s);
}

template <class Out>
void gated_backward(const float* h, const float* g, const float* w, const float* dm, int64_t n, int64_t d, float eps,
                    float* dh, Out* dg, float* dw, const GatedScratch& sc, cudaStream_t s) {
  if (n <= 0) return;
  if (streams_rows(g, dg, d, kMaxRowColumns) && aligned16(w) && aligned16(dm) && aligned16(h) && aligned16(dh) &&
      aligned16(sc.partial) && row_parts(n) <= INT32_MAX) {
    NormGroup<1> in{{w}, {dm}, {sc.partial}};
    in.h = h;
    in.dh = dh;
    launch_streamed<8, true>(g, in, n, static_cast<int>(d), eps, dg, false, s);
    add_parts(sc.partial, streamed_parts(n), d, dw, s);
    return;
  }
  // Other rows: d_normed = dm * silu(h) and dh a row per block, then the RMSNorm backward of d_normed.
  gated_split_kernel<<<rows_grid(n), kThreads, 0, s>>>(h, g, w, dm, d, eps, sc.d_normed, dh);
  check_launch("gated_split_kernel");
  rmsnorm_backward(g, w, sc.d_normed, n, d, eps, dg, false, dw, sc.rstd, sc.partial, s);
}
template void gated_backward<float>(const float*, const float*, const float*, const float*, int64_t, int64_t, float,
                                    float*, float*, float*, const GatedScratch&, cudaStream_t);
template void gated_backward<__nv_bfloat16>(const float*, const float*, const float*, const float*, int64_t, int64_t,
                                            float, float*, __nv_bfloat16*, float*, const GatedScratch&, cudaStream_t);

template <class Out>
void glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, Out* dgv, cudaStream_t s) {
  if (n * I <= 0) return;
  const bool aligned = aligned16(gv) && aligned16(dm) && reinterpret_cast<uintptr_t>(dgv) % (4 * sizeof(Out)) == 0;
  const int64_t max_stride = int64_t{65535} * 64 * kThreads;  // grid_for's largest grid: idx + stride stays in 32 bits
  if (I % 4 == 0 && aligned && n * I / 4 + max_stride <= UINT32_MAX) {
    glu_backward_x4_kernel<<<grid_for(n * I / 4), kThreads, 0, s>>>(reinterpret_cast<const float4*>(gv),
                                                                     reinterpret_cast<const float4*>(dm),
                                                                     static_cast<uint32_t>(n), static_cast<uint32_t>(I / 4), dgv);
    return check_launch("glu_backward_x4_kernel");
  }
  glu_backward_kernel<<<grid_for(n * I), kThreads, 0, s>>>(gv, dm, n, I, dgv);
  check_launch("glu_backward_kernel");
}
template void glu_backward<float>(const float*, const float*, int64_t, int64_t, float*, cudaStream_t);
template void glu_backward<__nv_bfloat16>(const float*, const float*, int64_t, int64_t, __nv_bfloat16*, cudaStream_t);

int64_t scan_chunks(int64_t T) { return (T + kScanChunk - 1) / kScanChunk; }

template <class Out>
void mlgru_scan_backward(const float* i, const float* f_lin, const float* h, const float* lb, const float* dh, int64_t B,
                         int64_t T, int64_t d, Out* di, Out* df_lin, float* dlb, const ScanScratch& sc, cudaStream_t s) {
  if (d <= 0 || B <= 0 || T <= 0) return;
  const int64_t chunks = scan_chunks(T), threads = B * chunks * d;
  const auto grid = static_cast<unsigned>((threads + kThreads - 1) / kThreads);
  scan_back_local_kernel<<<grid, kThreads, 0, s>>>(f_lin, lb, dh, B, T, d, chunks, sc.carry, sc.fprod);
  check_launch("scan_back_local_kernel");
  scan_back_chain_kernel<<<grid_for(B * d), kThreads, 0, s>>>(B, d, chunks, sc.carry, sc.fprod);
  check_launch("scan_back_chain_kernel");
  scan_back_kernel<<<grid, kThreads, 0, s>>>(i, f_lin, h, lb, dh, B, T, d, chunks, sc.carry, di, df_lin, sc.dlb_parts);
  check_launch("scan_back_kernel");
  if (lb) add_parts(sc.dlb_parts, B * chunks, d, dlb, s);
}
template void mlgru_scan_backward<float>(const float*, const float*, const float*, const float*, const float*, int64_t,
                                         int64_t, int64_t, float*, float*, float*, const ScanScratch&, cudaStream_t);
template void mlgru_scan_backward<__nv_bfloat16>(const float*, const float*, const float*, const float*, const float*,
                                                 int64_t, int64_t, int64_t, __nv_bfloat16*, __nv_bfloat16*, float*,
                                                 const ScanScratch&, cudaStream_t);

size_t embed_sort_bytes(int64_t n) {
  size_t bytes = 0;
  check(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
                                        static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
                                        static_cast<int>(n)),
        "size the embedding gradient's sort");
  return bytes;
}

void embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable, const EmbedScratch& sc,
                    cudaStream_t s) {
  if (d <= 0 || n <= 0) return;
  if (n > INT32_MAX) throw Error("internal: embed_backward over too many rows");
  iota_kernel<<<grid_for(n), kThreads, 0, s>>>(sc.rows_in, n);
  check_launch("iota_kernel");
  size_t bytes = sc.sort_bytes;
  check(cub::DeviceRadixSort::SortPairs(sc.sort_temp, bytes, tokens, sc.sorted_tokens, sc.rows_in, sc.rows,
                                        static_cast<int>(n), 0, 32, s),
        "sort the tokens for the embedding gradient");
  embed_runs_kernel<<<rows_grid(n), kThreads, 0, s>>>(sc.sorted_tokens, sc.rows, dx, n, d, dtable);
  check_launch("embed_runs_kernel");
}

void cross_entropy_rows(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef, double* nll, cudaStream_t s) {
  if (n <= 0) return;
  cross_entropy_kernel<<<rows_grid(n), kThreads, 0, s>>>(logits, labels, V, coef, nll);
  check_launch("cross_entropy_kernel");
}

void adamw(const AdamWArgs& a, cudaStream_t s) {
  if (a.n <= 0) return;
  auto at = [&](int64_t offset, int64_t count) {
    AdamWArgs r = a;
    r.p += offset, r.g += offset, r.m += offset, r.v += offset, r.n = count;
    return r;
  };
  auto scalar = [&](int64_t offset, int64_t count) {
    if (count <= 0) return;
    adamw_kernel<<<grid_for(count), kThreads, 0, s>>>(at(offset, count));
    check_launch("adamw_kernel");
  };
  // A run of the arena sits at one offset in all four arrays: a scalar head up to the first 16-byte
  // aligned element, then 4 a thread, then the scalar tail.
  const auto skew = [](const float* q) { return reinterpret_cast<uintptr_t>(q) % 16; };
  const uintptr_t k = skew(a.p);
  if (k % 4 != 0 || skew(a.g) != k || skew(a.m) != k || skew(a.v) != k) return scalar(0, a.n);
  const int64_t head = std::min<int64_t>(a.n, static_cast<int64_t>((16 - k) % 16 / 4)), groups = (a.n - head) / 4;
  scalar(0, head);
  if (groups > 0) {
    adamw_x4_kernel<<<grid_for(groups), kThreads, 0, s>>>(at(head, 4 * groups), groups);
    check_launch("adamw_x4_kernel");
  }
  scalar(head + 4 * groups, a.n - head - 4 * groups);
}

}  // namespace mmfree::cuda
