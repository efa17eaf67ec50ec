#include "backend/cuda/graph_timing.h"

#include <algorithm>
#include <vector>

#include "backend/cuda/bench_fill.h"
#include "backend/cuda/mma_layout.h"

namespace mmfree::cuda {

cudaGraphExec_t capture(cudaStream_t s, const std::function<void()>& enqueue) {
  cudaGraph_t g = nullptr;
  check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "begin capture");
  try {
    enqueue();
  } catch (...) {
    if (cudaStreamEndCapture(s, &g) == cudaSuccess && g) cudaGraphDestroy(g);
    throw;
  }
  check(cudaStreamEndCapture(s, &g), "end capture");
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
  cudaGraphDestroy(g);
  check(e, "instantiate graph");
  return exec;
}

float time_graph(cudaGraphExec_t exec, int per_graph, cudaStream_t s, int reps) {
  Timer t;
  check(cudaGraphLaunch(exec, s), "graph launch");  // warm-up
  std::vector<float> ms;
  for (int r = 0; r < reps; ++r) {
    t.start(s);
    check(cudaGraphLaunch(exec, s), "graph launch");
    ms.push_back(t.stop_ms(s));
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2] / static_cast<float>(per_graph);
}

int copies_for(int64_t bytes, int64_t l2_bytes) {
  return static_cast<int>(std::clamp<int64_t>(8 * l2_bytes / bytes + 1, 2, 64));
}

namespace {

// Device activations of n rows of k, random.
struct Acts {
  DeviceBuffer<int8_t> q;
  DeviceBuffer<int32_t> sums;
  DeviceBuffer<float> scale;
  int64_t n, k, stride;
  Acts(int64_t n_, int64_t k_, uint32_t seed, cudaStream_t s)
      : q(n_ * padded_cols(k_)), sums(n_), scale(n_), n(n_), k(k_), stride(padded_cols(k_)) {
    bench::fill_int8(q.data(), q.size(), seed, s);
    bench::fill_int8(reinterpret_cast<int8_t*>(sums.data()), sums.bytes(), seed + 1, s);
    bench::fill_floats(scale.data(), n, seed + 2, 40.0f, 10.0f, s);
  }
  DeviceActivations view() const { return {q.data(), stride, sums.data(), scale.data(), n, k}; }
};

}  // namespace

ProductTiming time_products(int64_t rows, int64_t cols, int count, int64_t n, ProductTuning tuning, bool hot,
                            int64_t l2_bytes, cudaStream_t s, int reps) {
  if (count < 1 || count > kMaxProducts || n < 1 || reps < 1) throw Error("internal: time_products arguments");
  ProductTiming r;
  const int64_t one = mma_bytes(rows, cols);
  r.launch_bytes = one * count;
  r.copies = hot || n > 64 ? 1 : copies_for(r.launch_bytes, l2_bytes);
  r.per_graph = n > 64 ? 5 : 100;
  std::vector<DeviceBuffer<uint8_t>> w;
  for (int c = 0; c < r.copies * count; ++c) {
    w.emplace_back(one);
    bench::fill_codes(w.back().data(), one, 100 + c, s);
  }
  std::vector<Acts> acts;
  for (int j = 0; j < count; ++j) acts.emplace_back(n, cols, 7 + j, s);
  DeviceBuffer<float> y(n * rows * count);
  cudaGraphExec_t exec = capture(s, [&] {
    for (int i = 0; i < r.per_graph; ++i) {
      const int c = i % r.copies;
      Product ps[kMaxProducts];
      for (int j = 0; j < count; ++j)
        ps[j] = Product{{w[c * count + j].data(), rows, cols}, acts[j].view(), {nullptr, y.data() + j * n * rows, rows, 0.5f}};
      ternary_product({ps, static_cast<size_t>(count)}, s, tuning);
    }
  });
  try {
    r.us_per_launch = time_graph(exec, r.per_graph, s, reps) * 1e3;
  } catch (...) {
    cudaGraphExecDestroy(exec);
    throw;
  }
  cudaGraphExecDestroy(exec);
  return r;
}

}  // namespace mmfree::cuda
