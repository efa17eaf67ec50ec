#pragma once
// bench-kernel --device cuda: one ternary x int8 product timed on a GPU, declared without CUDA
// headers so that the CLI can call it.
#include <cstdint>
#include <string>

namespace mmfree {

struct CudaProductBench {
  std::string device;        // the GPU, described
  double us_per_run = 0;     // median replay of a graph of launches_per_graph launches, per launch
  int64_t weight_bytes = 0;  // what one launch reads: the mma16 layout, 2 bits a weight plus tile padding
  int copies = 0, launches_per_graph = 0, replays = 0;
  double bandwidth_gbs = 0;  // the streaming-read probe in the same run (0 when hot)
};

// `products` products of m x k random weights times n random int8 tokens (each its own) in one
// launch on device "cuda" or "cuda:N", cycling through enough copies of the weights that every
// launch reads them from memory (one copy when hot); path: "auto", "warp" or "tiled" (the kernel);
// replays: graph replays, the median taken. Throws Error saying why when it cannot run.
CudaProductBench bench_cuda_product(const std::string& device, int64_t m, int64_t k, int64_t n, int products,
                                    const std::string& path, int replays, bool hot);

}  // namespace mmfree
