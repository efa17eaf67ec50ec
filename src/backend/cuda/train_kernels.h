#pragma once
// The training kernels of the CUDA backend (cuda_train.h uses them): ternarisation of latent weights,
// the element-wise backward passes, cross-entropy, AdamW and the reductions. Each repeats the host
// backends' float operations in their order (src/backend/host_train.cpp; this file is compiled
// without FMA contraction), so that results equal ref's bit for bit except where an exp is involved:
// exp here is CUDA's expf (within 2 ulp of exp, as the inference kernels'; glibc's is within 1), a
// double exp having cost a third of the backward's element-wise time. Reductions run in a fixed order (the same
// result on every run) but, where a serial sum would leave the GPU idle (sums over rows, the scan
// backward), in parts whose partial sums are then added in part order: float sums ordered unlike
// the host's. Everything is asynchronous on stream s.
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>

namespace mmfree::cuda {

// *s_w (device) = 1 / max(float(*sum / count), 1e-5): ternarize_to_float's scale from the sum of |W|.
void scale_from_abs_sum(const double* sum, int64_t count, float* s_w, cudaStream_t s);
// mma [mma_bytes(rows, cols)] = ternarize_to_float's -1/0/+1 of latent * s_w (s_w read on the
// device) as codes in the mma16 layout (mma_layout.h).
void ternary_codes(const float* latent, int64_t rows, int64_t cols, const float* s_w, uint8_t* mma, cudaStream_t s);
// codes [rows][cols] = the -1/0/+1 that mma holds, as floats or bf16 (exact either way): the
// backward's GEMM operand, formed when needed rather than kept for every matrix.
template <class Code>
void codes_from_mma(const uint8_t* mma, int64_t rows, int64_t cols, Code* codes, cudaStream_t s);

// What reduce_into sums over x[0..n): |x|, x^2 (floats, in double) or x itself (doubles).
enum class SumOf { Abs, Squares, Doubles };
// *out (device) = the sum in double, in an order fixed by n; partial holds kReduceParts doubles.
constexpr int kReduceParts = 256;
void reduce_into(const void* x, int64_t n, SumOf what, double* partial, double* out, cudaStream_t s);

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w for n rows of k (rmsnorm_rows).
void rmsnorm_rows(const float* x, const float* w, int64_t n, int64_t k, float eps, float* out, cudaStream_t s);
// xq[t][i] = q[t * q_stride + i] / s_x[t] (the straight-through estimator's view of a product's input).
void dequantize_rows(const int8_t* q, int64_t q_stride, const float* s_x, int64_t n, int64_t k, float* xq, cudaStream_t s);
// y = x rounded to bf16 (to nearest, even).
void to_bf16(const float* x, int64_t n, __nv_bfloat16* y, cudaStream_t s);

// How BitLinearInput forms m [n][k] (dense) from x (rows at ld): Plain copies; Norm adds `add` into x
// (when set), copies x into keep_x (when set), then RMSNorm(x) * w; Gated silu(h) * (RMSNorm(x) * w);
// Glu silu(x[:, c]) * x[:, k + c].
enum class FormKind { Plain, Norm, Gated, Glu };
void form_input(FormKind kind, float* x, int64_t ld, const float* add, const float* h, const float* w, float eps,
                int64_t n, int64_t k, float* m, float* keep_x, cudaStream_t s);

// Sums over rows are taken in parts of at most kPartRows rows, part_rows(n): parts of 32 rows from
// 8192 rows on, fewer below so that n rows still make kMinParts parts (blocks) where n allows, which
// fill the GPU. At most row_parts(n) partial sums of each column, never more for fewer rows (scratch
// sized for the most rows serves every call).
constexpr int64_t kPartRows = 32, kMinParts = 256;
int64_t part_rows(int64_t n);
int64_t row_parts(int64_t n);
// One of the RMSNorms over the same x whose backwards rmsnorm_backward_group runs together.
struct NormBackward {
  const float* w;
  const float* dy;
  float* dw;
};
// rmsnorm_backward for each norm in order over the same x, the first writing dx or adding to it as
// accumulate says, the rest adding: the bits of those calls one after another, with x read once where
// the rows allow (partial: [norms][row_parts(n)][k] scratch).
void rmsnorm_backward_group(const float* x, std::span<const NormBackward> norms, int64_t n, int64_t k, float eps,
                            float* dx, bool accumulate, float* rstd, float* partial, cudaStream_t s);
// rmsnorm_backward: dx written (or added to), dw +=; rstd [n] and partial [row_parts(n)][k] are scratch.
// Out = bf16: dx rounded as to_bf16 would round it (the bf16 backward GEMMs' dy), never added to.
template <class Out>
void rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, Out* dx,
                      bool accumulate, float* dw, float* rstd, float* partial, cudaStream_t s);
// gated_backward (backend.h's GatedBackward): dh and dg written, dw +=. Rows that rmsnorm_backward
// streams take one pass (d_normed = dm * silu(h) formed as each row lands, never stored); other rows
// write d_normed [n][d] into the scratch first. Out = bf16: dg rounded as to_bf16 would round it.
struct GatedScratch {
  float *d_normed, *rstd, *partial;  // [n][d], [n], [row_parts(n)][d]
};
template <class Out>
void gated_backward(const float* h, const float* g, const float* w, const float* dm, int64_t n, int64_t d, float eps,
                    float* dh, Out* dg, float* dw, const GatedScratch& sc, cudaStream_t s);
// HostBackend::glu_backward's dgv, as float or rounded to bf16 (the bf16 backward GEMMs' dy, without
// a float copy).
template <class Out>
void glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, Out* dgv, cudaStream_t s);
// The scan backward runs in chunks of kScanChunk time steps; each of scan_chunks(T) chunks of each
// sequence and channel keeps three floats in ScanScratch ([B][chunks][d] each).
constexpr int64_t kScanChunk = 64;
int64_t scan_chunks(int64_t T);
struct ScanScratch {
  float *carry, *fprod, *dlb_parts;
};
// Out = bf16: di and df_lin rounded as to_bf16 would round them (the bf16 backward GEMMs' dy).
template <class Out>
void mlgru_scan_backward(const float* i, const float* f_lin, const float* h, const float* lb, const float* dh, int64_t B,
                         int64_t T, int64_t d, Out* di, Out* df_lin, float* dlb, const ScanScratch& sc, cudaStream_t s);
// dtable[tokens[r]] += dx[r] in row order, as ref adds them: the rows sorted by token (a stable
// radix sort), then one block per token run. Deterministic, no atomics. The scratch holds n int32
// three times and embed_sort_bytes(n) bytes for the sort.
struct EmbedScratch {
  int32_t *rows_in, *rows, *sorted_tokens;
  void* sort_temp;
  size_t sort_bytes;
};
size_t embed_sort_bytes(int64_t n);
void embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable, const EmbedScratch& sc,
                    cudaStream_t s);
// Rows of logits turned into d(coef * NLL)/d(logits) in place; nll[r] = the row's NLL (0 unlabelled).
void cross_entropy_rows(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef, double* nll,
                        cudaStream_t s);
struct AdamWArgs {
  float* p;
  const float* g;
  float *m, *v;
  int64_t n;
  float decay, step_size, bc2_sqrt, one_minus_b1, b2, one_minus_b2, eps, grad_scale;
};
void adamw(const AdamWArgs& a, cudaStream_t s);

}  // namespace mmfree::cuda
