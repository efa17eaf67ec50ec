#include "backend/cuda/train_kernels.h"

#include <algorithm>
#include <string>

#include "backend/cuda/mma_layout.h"
#include "backend/cuda/runtime.h"
#include "util/error.h"

namespace mmfree::cuda {
namespace {

constexpr int kThreads = 256;  // every block-per-row kernel and the reductions: a fixed tree

// The host's sigmoidf/siluf (model/ops.h) on an exp rounded once from double.
__device__ __forceinline__ float exp_f(float x) { return static_cast<float>(exp(static_cast<double>(x))); }
__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + exp_f(-x)); }
struct SiluAndGrad {
  float value, grad;
};
__device__ __forceinline__ SiluAndGrad silu_and_grad(float x) {
  const float s = sigmoid_f(x);
  return {x * s, s * (1.0f + x * (1.0f - s))};
}

// The block's sum (or max) of v over its kThreads threads, in a fixed tree; every thread gets it.
template <class T, class Op>
__device__ T block_all(T v, Op op, T* scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (int o = kThreads / 2; o > 0; o >>= 1) {
    if (static_cast<int>(threadIdx.x) < o) scratch[threadIdx.x] = op(scratch[threadIdx.x], scratch[threadIdx.x + o]);
    __syncthreads();
  }
  const T r = scratch[0];
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
__device__ float row_rstd(const float* x, int64_t k, float eps, double* scratch) {
  double ss = 0;
  for (int64_t i = threadIdx.x; i < k; i += kThreads) ss += static_cast<double>(x[i]) * x[i];
  ss = block_all(ss, Add{}, scratch);
  return 1.0f / sqrtf(static_cast<float>(ss / static_cast<double>(k)) + eps);
}

unsigned grid_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 64)); }
unsigned rows_grid(int64_t n) {
  if (n > INT32_MAX) throw Error("internal: cuda training kernel over too many rows");
  return static_cast<unsigned>(n);
}

__global__ void ternary_codes_kernel(const float* latent, int64_t rows, int64_t cols, float s_w, float* codes,
                                     uint32_t* mma, int64_t words, int64_t units) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < words; idx += int64_t{gridDim.x} * blockDim.x) {
    // Word idx of the mma16 layout: tile (R, u) = idx / 128, lane = idx / 4 % 32, k-step kt = idx % 4.
    const int kt = static_cast<int>(idx % 4), lane = static_cast<int>(idx / 4 % 32);
    const int64_t tile = idx / 128, R = tile / units, u = tile % units;
    const int g = lane / 4, tq = lane % 4;
    uint32_t word = 0;
    for (int l = 0; l < 4; ++l)
      for (int j = 0; j < 4; ++j) {
        const int64_t r = R * kTileRows + g + 8 * (l & 1);
        const int64_t c = u * kTileCols + 32 * tq + 8 * kt + 4 * (l >> 1) + j;
        if (r >= rows || c >= cols) continue;  // padding: code 0
        const float v = latent[r * cols + c] * s_w;
        const float code = static_cast<float>(v > 0.5f) - static_cast<float>(v < -0.5f);
        codes[r * cols + c] = code;
        word |= static_cast<uint32_t>(static_cast<int>(code) + 1) << (8 * j + 2 * l);
      }
    mma[idx] = word;
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

// dx of one row per block (rmsnorm_backward_range), rstd kept for the dw pass.
__global__ void rmsnorm_dx_kernel(const float* x, const float* w, const float* dy, int64_t k, float eps, float* dx,
                                  bool accumulate, float* rstd_out) {
  __shared__ double scratch[kThreads];
  const int64_t t = blockIdx.x;
  const float *xr = x + t * k, *dyr = dy + t * k;
  float* dxr = dx + t * k;
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
    dxr[i] = accumulate ? dxr[i] + g : g;
  }
  if (threadIdx.x == 0) rstd_out[t] = rstd;
}

// dw[i] += dy[t][i] * xhat[t][i] over the rows in order (ref's sequence of float additions).
__global__ void rmsnorm_dw_kernel(const float* x, const float* dy, const float* rstd, int64_t n, int64_t k, float* dw) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= k) return;
  float acc = dw[i];
  for (int64_t t = 0; t < n; ++t) acc += dy[t * k + i] * (x[t * k + i] * rstd[t]);
  dw[i] = acc;
}

__global__ void gated_split_kernel(const float* h, const float* g, const float* w, const float* dm, int64_t d, float eps,
                                   float* normed, float* d_normed, float* dh) {
  __shared__ double scratch[kThreads];
  const int64_t t = blockIdx.x;
  const float rstd = row_rstd(g + t * d, d, eps, scratch);
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    const int64_t r = t * d + i;
    const float nv = g[r] * rstd * w[i];
    normed[r] = nv;
    const SiluAndGrad sh = silu_and_grad(h[r]);
    d_normed[r] = dm[r] * sh.value;
    dh[r] = dm[r] * nv * sh.grad;
  }
}

__global__ void glu_backward_kernel(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < n * I; idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = idx / I, c = idx % I;
    const float gate = gv[t * 2 * I + c], v = gv[t * 2 * I + I + c], dz = dm[idx];
    const SiluAndGrad sg = silu_and_grad(gate);
    dgv[t * 2 * I + c] = dz * v * sg.grad;
    dgv[t * 2 * I + I + c] = dz * sg.value;
  }
}

// One thread per channel, sequences in order, time backwards (HostBackend::mlgru_scan_backward).
__global__ void mlgru_backward_kernel(const float* in_i, const float* f_lin, const float* h, const float* lb,
                                      const float* dh_in, int64_t B, int64_t T, int64_t d, float* di, float* df_lin,
                                      float* dlb) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= d) return;
  const float l = lb ? lb[c] : 0.0f;
  float dlb_acc = lb ? dlb[c] : 0.0f;
  for (int64_t b = 0; b < B; ++b) {
    float carry = 0;
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t r = (b * T + t) * d + c;
      const float dh = dh_in[r] + carry;
      const float sg = sigmoid_f(f_lin[r]);
      const float f = lb ? l + (1.0f - l) * sg : sg;
      const float h_prev = t > 0 ? h[r - d] : 0.0f;
      const SiluAndGrad si = silu_and_grad(in_i[r]);
      const float df = dh * (h_prev - si.value);
      di[r] = dh * (1.0f - f) * si.grad;
      df_lin[r] = df * (lb ? 1.0f - l : 1.0f) * sg * (1.0f - sg);
      if (lb) dlb_acc += df * (1.0f - sg);
      carry = dh * f;
    }
  }
  if (lb) dlb[c] = dlb_acc;
}

__global__ void embed_backward_kernel(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= d) return;
  for (int64_t r = 0; r < n; ++r) dtable[static_cast<int64_t>(tokens[r]) * d + c] += dx[r * d + c];
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

__global__ void adamw_kernel(const AdamWArgs a) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < a.n; i += int64_t{gridDim.x} * blockDim.x) {
    float p = a.p[i], m = a.m[i], v = a.v[i];
    const float g = a.g[i];
    if (a.decay != 1.0f) p *= a.decay;
    m += a.one_minus_b1 * (g - m);
    v = v * a.b2 + a.one_minus_b2 * g * g;
    const float denom = sqrtf(v) / a.bc2_sqrt + a.eps;
    p += (-a.step_size * m) / denom;
    a.p[i] = p;
    a.m[i] = m;
    a.v[i] = v;
  }
}

__global__ void scale_kernel(float* x, int64_t n, float c) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) x[i] *= c;
}

}  // namespace

void ternary_codes(const float* latent, int64_t rows, int64_t cols, float s_w, float* codes, uint8_t* mma, cudaStream_t s) {
  const int64_t words = mma_bytes(rows, cols) / 4;
  ternary_codes_kernel<<<grid_for(words), kThreads, 0, s>>>(latent, rows, cols, s_w, codes, reinterpret_cast<uint32_t*>(mma),
                                                          words, col_units(cols));
  check_launch("ternary_codes_kernel");
}

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

void form_input(FormKind kind, float* x, int64_t ld, const float* add, const float* h, const float* w, float eps, int64_t n,
                int64_t k, float* m, float* keep_x, cudaStream_t s) {
  if (n <= 0) return;
  form_input_kernel<<<rows_grid(n), kThreads, 0, s>>>(kind, x, ld, add, h, w, eps, k, m, keep_x);
  check_launch("form_input_kernel");
}

void rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, float* dx,
                      bool accumulate, float* dw, float* rstd, cudaStream_t s) {
  if (n <= 0) return;
  rmsnorm_dx_kernel<<<rows_grid(n), kThreads, 0, s>>>(x, w, dy, k, eps, dx, accumulate, rstd);
  check_launch("rmsnorm_dx_kernel");
  rmsnorm_dw_kernel<<<grid_for(k), kThreads, 0, s>>>(x, dy, rstd, n, k, dw);
  check_launch("rmsnorm_dw_kernel");
}

void gated_split(const float* h, const float* g, const float* w, const float* dm, int64_t n, int64_t d, float eps,
                 float* normed, float* d_normed, float* dh, cudaStream_t s) {
  if (n <= 0) return;
  gated_split_kernel<<<rows_grid(n), kThreads, 0, s>>>(h, g, w, dm, d, eps, normed, d_normed, dh);
  check_launch("gated_split_kernel");
}

void glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv, cudaStream_t s) {
  if (n * I <= 0) return;
  glu_backward_kernel<<<grid_for(n * I), kThreads, 0, s>>>(gv, dm, n, I, dgv);
  check_launch("glu_backward_kernel");
}

void mlgru_scan_backward(const float* i, const float* f_lin, const float* h, const float* lb, const float* dh, int64_t B,
                         int64_t T, int64_t d, float* di, float* df_lin, float* dlb, cudaStream_t s) {
  if (d <= 0) return;
  mlgru_backward_kernel<<<grid_for(d), kThreads, 0, s>>>(i, f_lin, h, lb, dh, B, T, d, di, df_lin, dlb);
  check_launch("mlgru_backward_kernel");
}

void embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable, cudaStream_t s) {
  if (d <= 0 || n <= 0) return;
  embed_backward_kernel<<<grid_for(d), kThreads, 0, s>>>(tokens, dx, n, d, dtable);
  check_launch("embed_backward_kernel");
}

void cross_entropy_rows(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef, double* nll, cudaStream_t s) {
  if (n <= 0) return;
  cross_entropy_kernel<<<rows_grid(n), kThreads, 0, s>>>(logits, labels, V, coef, nll);
  check_launch("cross_entropy_kernel");
}

void adamw(const AdamWArgs& a, cudaStream_t s) {
  if (a.n <= 0) return;
  adamw_kernel<<<grid_for(a.n), kThreads, 0, s>>>(a);
  check_launch("adamw_kernel");
}

void scale(float* x, int64_t n, float c, cudaStream_t s) {
  if (n <= 0) return;
  scale_kernel<<<grid_for(n), kThreads, 0, s>>>(x, n, c);
  check_launch("scale_kernel");
}

}  // namespace mmfree::cuda
