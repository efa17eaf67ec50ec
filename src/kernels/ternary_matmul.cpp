#include "kernels/ternary_matmul.h"

#include <algorithm>
#include <string>

#include "kernels/ternary_kernels.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace mmfree {
namespace {

const kernels::KernelSet& kernel_set(Isa isa) {
  if (!isa_available(isa))
    throw Error(std::string("instruction set ") + isa_name(isa) + " is not available on this CPU/build");
  switch (isa) {
#if defined(MMFREE_X86_KERNELS)
    case Isa::Avx2: return kernels::kAvx2Kernels;
    case Isa::Avx512: return kernels::kAvx512Kernels;
    case Isa::Avx512Vnni: return kernels::kAvx512VnniKernels;
#endif
    default: return kernels::kScalarKernels;
  }
}

kernels::RowsFn rows_fn(const kernels::KernelSet& set, TernaryFormat f) {
  switch (f) {
    case TernaryFormat::I8: return set.i8;
    case TernaryFormat::TQ2_0: return set.tq2_0;
    case TernaryFormat::TQ1_0: return set.tq1_0;
    case TernaryFormat::TQ2_0_R8: return set.tq2_0_r8;
  }
  return set.i8;
}

// Rows per chunk handed to a thread: a few chunks per thread so that a thread slowed by another
// process does not hold the others up, in multiples of 16 rows (every kernel's row tile divides it,
// and so chunks never split a TQ2_0_R8 group).
int64_t row_grain(int64_t rows, int threads) {
  if (threads <= 1) return rows;
  const int64_t chunks = int64_t{threads} * 8;
  return std::max<int64_t>(16, (rows + chunks - 1) / chunks + 15) / 16 * 16;
}

// Below this many multiply-adds a product takes microseconds and waking threads costs as much.
constexpr int64_t kParallelMacs = int64_t{1} << 18;

}  // namespace

void ternary_matmul(const TernaryMatrix& w, const PreparedActivations& x, const MatmulOutput& out, ThreadPool* pool,
                    Isa isa) {
  // Checked without building messages unless they fail: this runs for every layer of every token.
  if (x.format != w.format || x.cols != w.cols)
    throw Error(std::string("internal: activations prepared for ") + format_name(x.format) + " x " + std::to_string(x.cols) +
                ", matrix is " + format_name(w.format) + " x " + std::to_string(w.cols));
  if ((out.acc != nullptr) == (out.y != nullptr) || (out.y && !out.x_scale)) throw Error("internal: ternary_matmul output unset");
  const kernels::RowsFn fn = rows_fn(kernel_set(isa), w.format);
  const kernels::MatmulJob job{w.data,   w.row_bytes(), w.format == TernaryFormat::TQ2_0_R8, w.cols,
                               x.data,   x.stride,      x.sums,                             x.rows,
                               w.rows,   out.acc,       out.y,                              out.x_scale,
                               out.w_scale};
  if (!pool || w.rows * w.cols * x.rows < kParallelMacs) {
    fn(job, 0, w.rows);
    return;
  }
  pool->parallel_for(w.rows, row_grain(w.rows, pool->size()), [&](int64_t r0, int64_t r1) { fn(job, r0, r1); });
}

}  // namespace mmfree
