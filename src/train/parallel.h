#pragma once
// The threads of training: row-parallel loops for the element-wise work, and the blocks of the
// matrix products (blas.h).
#include <algorithm>
#include <cstdint>
#include <functional>

namespace mmfree {

// Splits [0, n) into contiguous parts, one per thread (fewer when a part would hold less than
// min_per_part items), and runs fn(begin, end, part) on each, part 0 on the calling thread.
// Returns the number of parts, so that per-part partial sums can be reduced in a fixed order:
// results are deterministic for a given thread count.
int parallel_for(int64_t n, int64_t min_per_part, const std::function<void(int64_t, int64_t, int)>& fn);

// The threads of training, the most parts parallel_for makes: n, or one per hardware thread when
// n is 0 (the default).
void set_parallel_threads(int n);
int parallel_threads();

// A min_per_part for rows of row_size floats: about 16K floats, below which a thread costs more
// than it saves.
inline int64_t min_rows_per_part(int64_t row_size) { return row_size >= 16384 ? 1 : 16384 / std::max<int64_t>(row_size, 1); }

}  // namespace mmfree
