#include "kernels/ternary_matmul.h"

#include <algorithm>
#include <string>

#include "kernels/chunk_plan.h"
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

// Measured on the 2.7B decode: a floor of 32 to 256 KiB per chunk made no difference.
constexpr int64_t kMinChunkBytes = 128 * 1024;

// Below this many multiply-adds a product takes microseconds and waking threads costs as much.
constexpr int64_t kParallelMacs = int64_t{1} << 18;

// The rows of one parallel pass over several products: product i owns rows [start[i], start[i] +
// its rows), each start a multiple of 16 so that every chunk (plan_chunks) starts a product's rows on
// a multiple of 16 too; bytes: the code bytes the pass reads.
struct PassRows {
  int64_t start[kMaxMatmulTasks];
  int64_t total = 0, bytes = 0;
  void add(size_t i, const TernaryMatrix& w) {
    start[i] = total;
    total += (w.rows + 15) / 16 * 16;
    bytes += w.rows * w.row_bytes();
  }
};

// How much of each stream of its first chunk a waiting worker reads ahead: the gap between two
// decode products (element-wise work, about 10 us on the 2.7B model) moves some 300 KB; L2 is
// 1 MiB on the dev VM's Zen 5 (measured, paired runs: 2.7B decode 1-2% faster, 370M 2%).
constexpr int64_t kReadAheadBytes = 256 * 1024;

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
  PassRows pass;
  int64_t macs = 0;
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
    pass.add(i, w);
    macs += w.rows * w.cols * x.rows;
  }
  if (!pool || macs < kParallelMacs) {
    for (size_t i = 0; i < tasks.size(); ++i) fns[i](jobs[i], 0, jobs[i].ld);
    return;
  }
  const ChunkPlan plan = plan_chunks(pass.total, pass.bytes, pool->size(), kMinChunkBytes);
  pool->parallel_for(plan.count, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t r0 = c ? plan.end[c - 1] : 0, r1 = plan.end[c];
      for (size_t i = 0; i < tasks.size(); ++i) {
        const int64_t lo = std::max(r0, pass.start[i]), hi = std::min(r1, pass.start[i] + jobs[i].ld);
        if (lo < hi) fns[i](jobs[i], lo - pass.start[i], hi - pass.start[i]);
      }
    }
  });
}

void ternary_prefetch_next(std::span<const TernaryMatrix> next, ThreadPool* pool, Isa isa) {
  if (!pool || pool->size() < 2 || next.empty() || next.size() > static_cast<size_t>(kMaxMatmulTasks)) return;
  PassRows pass;
  int64_t macs = 0;
  for (size_t i = 0; i < next.size(); ++i) {
    pass.add(i, next[i]);
    macs += next[i].rows * next[i].cols;
  }
  if (macs < kParallelMacs) return;  // it will run on the calling thread
  const int streams = std::min(kernel_set(isa).decode_streams, ThreadPool::kMaxStreams);
  // Where row r of the pass lies (rows of one product are contiguous in every format).
  auto row_address = [&](int64_t r) -> const uint8_t* {
    for (size_t i = 0; i < next.size(); ++i)
      if (r < pass.start[i] + next[i].rows)
        return next[i].data + std::max<int64_t>(0, r - pass.start[i]) * next[i].row_bytes();
    return nullptr;
  };
  const ChunkPlan plan = plan_chunks(pass.total, pass.bytes, pool->size(), kMinChunkBytes);
  ThreadPool::ReadAhead ranges[ThreadPool::kMaxReadAheadWorkers];
  const int workers = std::min({pool->size() - 1, plan.count - 1, ThreadPool::kMaxReadAheadWorkers});
  for (int w = 1; w <= workers; ++w) {
    // Chunk w is worker w's first (ThreadPool::run); decode_rows reads it as `streams` streams.
    const int64_t r0 = plan.end[w - 1], r1 = plan.end[w];
    ThreadPool::ReadAhead& ra = ranges[w - 1];
    const int64_t per = (r1 - r0) / layout::kR8Rows / streams;
    const bool split = next[0].format == TernaryFormat::TQ2_0_R8 && per > 0;
    ra.streams = split ? streams : 1;
    for (int s = 0; s < ra.streams; ++s) ra.start[s] = row_address(r0 + s * per * layout::kR8Rows);
    ra.bytes = std::min(kReadAheadBytes, (split ? per * layout::kR8Rows : r1 - r0) * next[0].row_bytes());
    if (!ra.start[0]) ra = ThreadPool::ReadAhead{};
  }
  pool->read_ahead_while_idle({ranges, static_cast<size_t>(workers)});
}

}  // namespace mmfree
