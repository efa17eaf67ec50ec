#pragma once
// The float work around the ternary products, per instruction set: Isa::Scalar and Isa::Avx2 run
// the reference formulas (ternary_ref.h, model/ops.h); AVX-512 runs vectorised twins. The
// vectorised RMSNorm and RMSNorm + quantize give the reference's numbers bit for bit (same float
// operations in the same order; the double sum of squares is only reassociated); the vectorised
// exp inside sigmoid and SiLU differs from std::exp by about one unit in the last place.
// Row-wise work is split over the pool (may be null) when it is large enough to pay for it.
#include <cstdint>

#include "kernels/cpu_isa.h"

namespace mmfree {

class ThreadPool;

// rmsnorm_quantize_ref: q [n][k] int8 and s_x [n] from x [n][k] (eps 1e-6, see SPEC.md).
void rmsnorm_quantize(Isa isa, const float* x, const float* w, int64_t n, int64_t k, int8_t* q, float* s_x,
                      ThreadPool* pool = nullptr);
// rmsnorm_rows: out = x / sqrt(mean(x^2) + eps) * w per row (out may alias x).
void rmsnorm(Isa isa, const float* x, const float* w, int64_t n, int64_t k, float eps, float* out,
             ThreadPool* pool = nullptr);
// For each of `rows` rows: out[c] = silu(a[c]) * b[c], c < cols; a and b advance by in_stride per
// row, out by out_stride (out may alias a or b).
void silu_mul(Isa isa, const float* a, const float* b, int64_t rows, int64_t cols, int64_t in_stride, float* out,
              int64_t out_stride, ThreadPool* pool = nullptr);
// One MLGRU time step over d channels: fg = sigmoid(f), then fg = lb + (1 - lb) * fg when lb is
// not null, h = fg * h + silu(i) * (1 - fg); h_out (may alias i) receives the new h.
void mlgru_step(Isa isa, const float* i, const float* f, const float* lb, int64_t d, float* h, float* h_out);

}  // namespace mmfree
