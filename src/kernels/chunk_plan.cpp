#include "kernels/chunk_plan.h"

#include <algorithm>

namespace mmfree {

ChunkPlan plan_chunks(int64_t rows, int64_t bytes, int threads, int64_t min_bytes) {
  ChunkPlan p;
  const int64_t min_rows = std::max<int64_t>(16, (min_bytes * rows / std::max<int64_t>(bytes, 1) + 15) / 16 * 16);
  for (int64_t done = 0; done < rows;) {
    const int64_t left = rows - done;
    int64_t take = std::max(min_rows, (left / (2 * int64_t{std::max(threads, 1)}) + 15) / 16 * 16);
    if (p.count == kMaxChunks - 1 || take >= left) take = left;
    done += take;
    p.end[p.count++] = done;
  }
  return p;
}

}  // namespace mmfree
