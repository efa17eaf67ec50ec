#include "backend/cuda/product_bench.h"

#include "backend/cuda/bandwidth.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/graph_timing.h"
#include "backend/cuda/runtime.h"

namespace mmfree {

CudaProductBench bench_cuda_product(const std::string& device, int64_t m, int64_t k, int64_t n, int products,
                                    const std::string& path, int replays, bool hot) {
  const int index = cuda_device_index(device);
  if (const std::string why = cuda::unavailable_reason(index); !why.empty()) throw Error("--device " + device + ": " + why);
  const cuda::DeviceInfo dev = cuda::select_device(index);
  cuda::Stream s;
  if (path == "tiled" && !cuda::tiled_product_available())
    throw Error("--path tiled: the tiled kernel runs on Hopper GPUs only (" + dev.name + " is not one)");
  cuda::ProductTuning tuning;
  tuning.path = path == "warp" ? cuda::ProductPath::Warp : path == "tiled" ? cuda::ProductPath::Tiled : cuda::ProductPath::Auto;
  const cuda::ProductTiming t = cuda::time_products(m, k, products, n, tuning, hot, dev.l2_bytes, s.get(), replays);
  CudaProductBench r;
  r.device = "cuda:" + std::to_string(dev.index) + ": " + dev.name;
  r.us_per_run = t.us_per_launch;
  r.weight_bytes = t.launch_bytes;
  r.copies = t.copies;
  r.launches_per_graph = t.per_graph;
  r.replays = replays;
  if (!hot) r.bandwidth_gbs = cuda::measure_read_bandwidth(int64_t{1} << 30, 9, s.get()).gbps;
  return r;
}

}  // namespace mmfree
