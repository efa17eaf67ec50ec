#pragma once
// The fast ternary x int8 product, for every weight format and instruction set, split over the
// rows of the matrix on a thread pool. The integer sums equal ternary_matmul_ref's exactly.
#include <cstdint>
#include <span>

#include "kernels/cpu_isa.h"
#include "kernels/ternary_activations.h"
#include "kernels/ternary_format.h"

namespace mmfree {

class ThreadPool;

// Where the product goes: the int32 sums acc[t][o], or, when y is set, BitLinear's output
// y[t][o] = float(sum) / (x_scale[t] * w_scale). Row stride: the matrix's row count.
struct MatmulOutput {
  int32_t* acc = nullptr;
  float* y = nullptr;
  const float* x_scale = nullptr;
  float w_scale = 1;
};

// out[t][o] = sum_i W[o][i] q[t][i] for t < x.rows, o < w.rows. x must be prepared for w.format
// with w.cols columns. pool may be null (calling thread only). Throws Error on mismatched shapes
// or an instruction set this CPU lacks.
void ternary_matmul(const TernaryMatrix& w, const PreparedActivations& x, const MatmulOutput& out, ThreadPool* pool,
                    Isa isa = best_isa());

// One product of ternary_matmul_batch.
struct MatmulTask {
  const TernaryMatrix* w;
  const PreparedActivations* x;
  MatmulOutput out;
};
constexpr int kMaxMatmulTasks = 8;

// Several independent products in one parallel pass over all their rows: one wake-up of the pool
// instead of one per product, and small matrices share the threads' streams (decoding reads three
// d x d matrices of the MLGRU from the same normalised input). Same results as one call each.
void ternary_matmul_batch(std::span<const MatmulTask> tasks, ThreadPool* pool, Isa isa = best_isa());

// Decode: tells the pool's waiting workers which weights the next one-token ternary_matmul_batch
// (of these matrices, in this order) will have them read first, so that they pull those into their
// caches while the caller does the element-wise work in between. Only a hint: results never
// depend on it, and a wrong or stale hint costs only the bandwidth it used.
void ternary_prefetch_next(std::span<const TernaryMatrix> next, ThreadPool* pool, Isa isa = best_isa());

}  // namespace mmfree
