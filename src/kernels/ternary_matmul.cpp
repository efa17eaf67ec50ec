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
// process does not hold the others up, but none under kMinChunkBytes of weights (a chunk starts a
// new memory stream, which takes a while to reach full speed); in multiples of 16 rows (every
// kernel's row tile divides it, and so chunks never split a TQ2_0_R8 group).
constexpr int64_t kMinChunkBytes = 256 * 1024;
int64_t row_grain(int64_t rows, int64_t bytes, int threads) {
  if (threads <= 1) return rows;
  const int64_t chunks = std::max<int64_t>(threads, std::min<int64_t>(int64_t{threads} * 8, bytes / kMinChunkBytes));
  return std::max<int64_t>(16, (rows + chunks - 1) / chunks + 15) / 16 * 16;
}

// Below this many multiply-adds a product takes microseconds and waking threads costs as much.
constexpr int64_t kParallelMacs = int64_t{1} << 18;

}  // namespace

void ternary_matmul(const TernaryMatrix& w, const PreparedActivations& x, const MatmulOutput& out, ThreadPool* pool,
                    Isa isa) {
  const MatmulTask task{&w, &x, out};
  ternary_matmul_batch({&task, 1}, pool, isa);
}

void ternary_matmul_batch(std::span<const MatmulTask> tasks, ThreadPool* pool, Isa isa) {
  // Checked without building messages unless they fail: this runs for every layer of every token.
  if (tasks.size() > static_cast<size_t>(kMaxMatmulTasks)) throw Error("internal: too many products in one batch");
  const kernels::KernelSet& set = kernel_set(isa);
  kernels::MatmulJob jobs[kMaxMatmulTasks];
  kernels::RowsFn fns[kMaxMatmulTasks];
  // Task i owns rows [start[i], start[i] + rows) of the pass; starts are multiples of 16 so that
  // every chunk (row_grain) starts a task's rows on a multiple of 16 too.
  int64_t start[kMaxMatmulTasks];
  int64_t total = 0, macs = 0, bytes = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const TernaryMatrix& w = *tasks[i].w;
    const PreparedActivations& x = *tasks[i].x;
    const MatmulOutput& out = tasks[i].out;
    if (x.format != w.format || x.cols != w.cols)
      throw Error(std::string("internal: activations prepared for ") + format_name(x.format) + " x " +
                  std::to_string(x.cols) + ", matrix is " + format_name(w.format) + " x " + std::to_string(w.cols));
    if ((out.acc != nullptr) == (out.y != nullptr) || (out.y && !out.x_scale))
      throw Error("internal: ternary_matmul output unset");
    fns[i] = rows_fn(set, w.format);
    jobs[i] = kernels::MatmulJob{w.data,  w.row_bytes(), w.format == TernaryFormat::TQ2_0_R8, w.cols, x.data,
                                 x.stride, x.sums,       x.rows,                             w.rows, out.acc,
                                 out.y,    out.x_scale,  out.w_scale};
    start[i] = total;
    total += (w.rows + 15) / 16 * 16;
    macs += w.rows * w.cols * x.rows;
    bytes += w.rows * w.row_bytes();
  }
  if (!pool || macs < kParallelMacs) {
    for (size_t i = 0; i < tasks.size(); ++i) fns[i](jobs[i], 0, jobs[i].ld);
    return;
  }
  pool->parallel_for(total, row_grain(total, bytes, pool->size()), [&](int64_t r0, int64_t r1) {
    for (size_t i = 0; i < tasks.size(); ++i) {
      const int64_t lo = std::max(r0, start[i]), hi = std::min(r1, start[i] + jobs[i].ld);
      if (lo < hi) fns[i](jobs[i], lo - start[i], hi - start[i]);
    }
  });
}

}  // namespace mmfree
