#pragma once
// The float work between the ternary products, on device pointers, one launch each, with the CPU
// reference's float operations in the CPU's order (SPEC.md; kernels/ternary_ref.h, model/ops.h,
// kernels/elementwise.cpp). Sums of squares are in double, as on the CPU, but added in another
// order; exp is CUDA's expf (within 2 ulp of the CPU's std::exp), so results involving sigmoid or
// SiLU differ from the CPU's by a few ulp, and an int8 code that lies on a rounding boundary can
// then differ by one (tests/cuda state the measured and allowed differences). Like the products,
// every kernel here is launched with programmatic dependent launch (launch.cuh). Rows of the three
// quantising kernels hold up to 51200 values (k; one row of floats in shared memory). Everything is
// asynchronous on stream s; arguments are checked on the host (Error, naming what is wrong).
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>

namespace mmfree::cuda {

// One BitLinear input: the layer's norm weights and where its int8 activations go, as
// rmsnorm_quantize_ref makes them (eps 1e-6): q [n][q_stride] (q_stride a multiple of 16, at least
// padded_cols(k); columns k..q_stride are set to 0), scale [n] = s_x, sums [n] = the sum of each row's q.
// q and sums may both be null where dequantized is set (training's bf16 backward reads only that):
// then no codes or sums are written, and every target of the call must leave them null.
struct QuantTarget {
  const float* w_norm = nullptr;
  int8_t* q = nullptr;
  float* scale = nullptr;
  int32_t* sums = nullptr;
  // Training: also q / scale rounded to bf16, [n][k] dense (the straight-through estimator's view
  // of the product's input, for the backward's bf16 GEMMs); null for none.
  __nv_bfloat16* dequantized = nullptr;
};
constexpr int kMaxQuantTargets = 4;

// Training: copies of what a quantising pass forms, [n][k] dense each (null: not kept): m, the
// quantised rows before any target's norm, and x after the residual add (norm_quantize only).
struct RowKeep {
  float* m = nullptr;
  float* x = nullptr;
};

// For each row t < n of x [n][x_ld]: m = x[t], or m = RMSNorm(x[t]) * w_pre (eps) when w_pre is set
// (the block's pre-norm, model/ops.h rmsnorm_rows); then every target quantises m. With add set,
// x[t] += add[t] (add [n][x_ld]) first and x keeps the sum (the residual stream).
void norm_quantize(float* x, const float* add, int64_t x_ld, const float* w_pre, float eps, int64_t n, int64_t k,
                   std::span<const QuantTarget> targets, int64_t q_stride, cudaStream_t s, RowKeep keep = {});

// MLGRU output gate, then quantisation: m = silu(h[t]) * (RMSNorm(g[t]) * w_g) (eps), g and h
// [n][ld], as Mlgru::forward computes it (rmsnorm, then silu_mul); targets quantise m.
void gated_norm_quantize(const float* g, const float* h, int64_t ld, const float* w_g, float eps, int64_t n, int64_t k,
                         std::span<const QuantTarget> targets, int64_t q_stride, cudaStream_t s, RowKeep keep = {});

// Decode of the MLGRU and its output gate in one launch (T = 1, one token per sequence): for each row
// t < n, h = the MLGRU step (mlgru_scan's formulas, the CPU's mlgru_step) from i[t] and f[t] (rows at
// ld) and the state at states + slots[t] * slot_stride (slots null: t * slot_stride), which it
// updates in place; then m = silu(h) * (RMSNorm(g[t]) * w_g) as gated_norm_quantize, and the targets
// quantise m. No two rows may name the same slot. Replaces mlgru_scan (T = 1) + gated_norm_quantize,
// and any gather/scatter of the states around them.
void mlgru_step_gated_quantize(const float* i, const float* f, const float* lb, float* states, const int32_t* slots,
                               int64_t slot_stride, const float* g, int64_t ld, const float* w_g, float eps, int64_t n,
                               int64_t k, std::span<const QuantTarget> targets, int64_t q_stride, cudaStream_t s);

// GLU: m = silu(gv[t][c]) * gv[t][k + c] for c < k (the gate is the first k outputs, v the next k),
// gv [n][gv_ld]; targets quantise m.
void glu_quantize(const float* gv, int64_t gv_ld, int64_t n, int64_t k, std::span<const QuantTarget> targets,
                  int64_t q_stride, cudaStream_t s, RowKeep keep = {});

// The MLGRU recurrence over B sequences of T steps (SPEC.md): for each channel c < d,
//   fg = sigmoid(f), fg = lb + (1 - lb) * fg when lb is set, h = fg * h + silu(i) * (1 - fg),
// i and f [B*T][ld] (batch-major), h [B][h_stride] (read and updated), h_out [B*T][out_ld] = h after
// each step. Within chunks of ceil(T / 32) steps each step is the CPU's mlgru_step; the state entering
// a chunk comes from the chunks before it composed as affine maps (a parallel scan), which rounds
// differently from a sequential loop by a few ulp. T = 1 is the decode step.
void mlgru_scan(const float* i, const float* f, int64_t ld, const float* lb, int64_t B, int64_t T, int64_t d, float* h,
                int64_t h_stride, float* h_out, int64_t out_ld, cudaStream_t s);

// x[r][c] += y[r][c] for r < n, c < k (rows at x_ld and y_ld): a residual add on its own.
void add_rows(float* x, int64_t x_ld, const float* y, int64_t y_ld, int64_t n, int64_t k, cudaStream_t s);

}  // namespace mmfree::cuda
