#pragma once
// The training kernels of the CUDA backend (cuda_train.h uses them): ternarisation of latent weights,
// the element-wise backward passes, cross-entropy, AdamW and the reductions. Each repeats the host
// backends' float operations in their order (src/backend/host_train.cpp; this file is compiled
// without FMA contraction), so that results equal ref's bit for bit except where an exp is involved:
// exp here is the float of a double exp (correctly rounded but for rare double roundings), where
// glibc's expf is one ulp off on about 7e-5 of floats. Reductions run in a fixed order (the same
// result on every run); their sums in double are ordered differently from the host's.
// Everything is asynchronous on stream s.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace mmfree::cuda {

// codes [rows][cols] = ternarize_to_float's -1/0/+1 of latent * s_w, and mma [mma_bytes(rows, cols)]
// the same codes in the mma16 layout (mma_layout.h).
void ternary_codes(const float* latent, int64_t rows, int64_t cols, float s_w, float* codes, uint8_t* mma,
                   cudaStream_t s);

// What reduce_into sums over x[0..n): |x|, x^2 (floats, in double) or x itself (doubles).
enum class SumOf { Abs, Squares, Doubles };
// *out (device) = the sum in double, in an order fixed by n; partial holds kReduceParts doubles.
constexpr int kReduceParts = 256;
void reduce_into(const void* x, int64_t n, SumOf what, double* partial, double* out, cudaStream_t s);

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w for n rows of k (rmsnorm_rows).
void rmsnorm_rows(const float* x, const float* w, int64_t n, int64_t k, float eps, float* out, cudaStream_t s);
// xq[t][i] = q[t * q_stride + i] / s_x[t] (the straight-through estimator's view of a product's input).
void dequantize_rows(const int8_t* q, int64_t q_stride, const float* s_x, int64_t n, int64_t k, float* xq,
                     cudaStream_t s);

// How BitLinearInput forms m [n][k] (dense) from x (rows at ld): Plain copies; Norm adds `add` into x
// (when set), copies x into keep_x (when set), then RMSNorm(x) * w; Gated silu(h) * (RMSNorm(x) * w);
// Glu silu(x[:, c]) * x[:, k + c].
enum class FormKind { Plain, Norm, Gated, Glu };
void form_input(FormKind kind, float* x, int64_t ld, const float* add, const float* h, const float* w, float eps,
                int64_t n, int64_t k, float* m, float* keep_x, cudaStream_t s);

// rmsnorm_backward: dx written (or added to), dw +=; rstd [n] is scratch.
void rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, float* dx,
                      bool accumulate, float* dw, float* rstd, cudaStream_t s);
// The first half of gated_backward: normed = RMSNorm(g) * w, d_normed = dm * silu(h), dh written.
void gated_split(const float* h, const float* g, const float* w, const float* dm, int64_t n, int64_t d, float eps,
                 float* normed, float* d_normed, float* dh, cudaStream_t s);
void glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv, cudaStream_t s);
void mlgru_scan_backward(const float* i, const float* f_lin, const float* h, const float* lb, const float* dh, int64_t B,
                         int64_t T, int64_t d, float* di, float* df_lin, float* dlb, cudaStream_t s);
// dtable[tokens[r]] += dx[r] in row order (one thread per column: deterministic, no atomics).
void embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable, cudaStream_t s);
// Rows of logits turned into d(coef * NLL)/d(logits) in place; nll[r] = the row's NLL (0 unlabelled).
void cross_entropy_rows(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef, double* nll,
                        cudaStream_t s);
struct AdamWArgs {
  float* p;
  const float* g;
  float *m, *v;
  int64_t n;
  float decay, step_size, bc2_sqrt, one_minus_b1, b2, one_minus_b2, eps;
};
void adamw(const AdamWArgs& a, cudaStream_t s);
void scale(float* x, int64_t n, float c, cudaStream_t s);

}  // namespace mmfree::cuda
