#pragma once
// What the quantising row kernels share (elementwise.cu's row kernel, row_kernel_many.cu's kernel for
// many rows): their arguments and each value's float operations, which must give the same bits in
// both (the CPU's operations in the CPU's order: model/ops.h, kernels/ternary_ref.cpp). Only sums of
// squares (in double) may be added in another order.
#include <cuda_bf16.h>

#include <cstdint>

#include "backend/cuda/elementwise.h"

namespace mmfree::cuda {

// The CPU's sigmoidf and siluf (model/ops.h) with IEEE division; expf is within 2 ulp of std::exp.
__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float silu_f(float x) { return x / (1.0f + expf(-x)); }

struct DoubleSum {
  __device__ double operator()(double a, double b) const { return a + b; }
};
struct IntSum {
  __device__ int operator()(int a, int b) const { return a + b; }
};
struct FloatMax {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// 1 / sqrt(mean(x^2) + eps) from a row's sum of squares (in double, as model/ops.h rms_rstd).
__device__ __forceinline__ float rstd_from_sum(double ss, int k, float eps) {
  return 1.0f / sqrtf(static_cast<float>(ss / static_cast<double>(k)) + eps);
}
// x * rstd * w, left to right: RMSNorm's output (rmsnorm_rows) and the quantiser's normed value.
__device__ __forceinline__ float normed(float x, float rstd, float w) { return x * rstd * w; }
// s_x = 127 / max(amax, 1e-5) and a code round(u * s) clamped to int8 (rmsnorm_quantize_ref, u =
// normed; quant_code.h forms the same code without the conversion unit).
__device__ __forceinline__ float quant_scale(float amax) { return 127.0f / fmaxf(amax, 1e-5f); }
__device__ __forceinline__ int quant_code(float u, float s) {
  return static_cast<int>(fminf(fmaxf(roundf(u * s), -128.0f), 127.0f));
}

// Four codes (ints in [-128, 127]) as the bytes of one word, the first lowest: one 4-byte store.
__device__ __forceinline__ uint32_t pack_codes(const int (&v)[4]) {
  return __byte_perm(__byte_perm(v[0], v[1], 0x0040), __byte_perm(v[2], v[3], 0x0040), 0x5410);
}

enum class RowMode { Plain, Gated, GatedStep, Glu };

struct RowArgs {
  float* x = nullptr;          // Plain: x (updated when add is set); Gated, GatedStep: g; Glu: gv
  const float* add = nullptr;  // Plain: the residual
  const float* h = nullptr;    // Gated: the MLGRU states
  int64_t ld = 0;
  const float* w_pre = nullptr;  // Plain: the pre-norm weights (optional); Gated, GatedStep: g_norm
  float eps = 0;
  int k = 0;
  int64_t q_stride = 0;
  QuantTarget t[kMaxQuantTargets] = {};
  // GatedStep: the MLGRU's i and f rows (at ld), its lower bounds (or null), and the states, row t's
  // at states + slots[t] * slot_stride (slots null: t * slot_stride).
  const float* i = nullptr;
  const float* f = nullptr;
  const float* lb = nullptr;
  float* states = nullptr;
  const int32_t* slots = nullptr;
  int64_t slot_stride = 0;
  RowKeep keep = {};
};

// Whether a pass may move 4 consecutive columns at a time: k and the row strides multiples of 4, and
// every row or vector it reads or writes as floats starting 16 bytes aligned (null ones count as
// aligned). The kernels of few rows (elementwise.cu) and of many (row_kernel_many.cu) both ask it.
inline bool rows_in_groups_of_4(const RowArgs& a) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  bool ok = a.k % 4 == 0 && a.ld % 4 == 0 && a.slot_stride % 4 == 0 && aligned(a.x) && aligned(a.add) &&
            aligned(a.h) && aligned(a.w_pre) && aligned(a.i) && aligned(a.f) && aligned(a.lb) && aligned(a.states) &&
            aligned(a.keep.m) && aligned(a.keep.x);
  for (const QuantTarget& t : a.t) ok = ok && aligned(t.w_norm);
  return ok;
}

}  // namespace mmfree::cuda
