#pragma once
// Timing device work as a decode step pays for it: launches captured in one CUDA graph and replayed,
// so that the time includes the gaps between dependent launches but no host launch overhead.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>

#include "backend/cuda/runtime.h"
#include "backend/cuda/ternary_product.h"

namespace mmfree::cuda {

// Whatever `enqueue` puts on s, as an executable graph (the caller destroys it).
cudaGraphExec_t capture(cudaStream_t s, const std::function<void()>& enqueue);

// Median time of one replay of exec (which holds `per_graph` units of work) over `reps` replays
// after one warm-up, in ms per unit.
float time_graph(cudaGraphExec_t exec, int per_graph, cudaStream_t s, int reps = 7);

// Enough copies of `bytes` of weights that consecutive launches read from memory, not L2.
int copies_for(int64_t bytes, int64_t l2_bytes);

// One launch of `count` products of rows x cols random weights over n random tokens, timed as
// above: 100 launches per graph (5 past 64 tokens), cycling through copies_for() copies of the
// weights (one when hot), median of `reps` replays.
struct ProductTiming {
  double us_per_launch = 0;
  int64_t launch_bytes = 0;  // weights one launch reads (the mma16 layout)
  int copies = 0, per_graph = 0;
};
ProductTiming time_products(int64_t rows, int64_t cols, int count, int64_t n, ProductTuning tuning, bool hot,
                            int64_t l2_bytes, cudaStream_t s, int reps = 7);

}  // namespace mmfree::cuda
