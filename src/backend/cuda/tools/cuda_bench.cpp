// mmfree_cuda_bench: the CUDA kernels at the paper's shapes on the current GPU. Prints the device's
// read bandwidth (a streaming probe), then for each ternary product the packed weight bytes read per
// second and their fraction of the probe (decode) or int8 tera-operations per second (prefill), then
// a whole 2.7B decode step (32 layers and the LM head as one CUDA graph).
// Usage: mmfree_cuda_bench [--device N] [--sweep] [--only products|float|step]
//   --sweep: every launch shape for each product; --only: one section (e.g. under a profiler)
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cuda/bandwidth.h"
#include "backend/cuda/bench_fill.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/graph_timing.h"
#include "backend/cuda/mma_layout.h"
#include "backend/cuda/runtime.h"
#include "backend/cuda/ternary_product.h"

namespace mmfree::cuda::bench {
namespace {

struct Shape {
  const char* name;
  int64_t rows, cols;
  int count;  // matrices of this shape in one launch
  int64_t n;
};

void bench_products(const DeviceInfo& dev, double probe_gbps, bool sweep, cudaStream_t s) {
  const Shape shapes[] = {
      {"2.7B i,f,g (one launch)", 2560, 2560, 3, 1}, {"2.7B o", 2560, 2560, 1, 1},
      {"2.7B gate (2I x d)", 13824, 2560, 1, 1},     {"2.7B down (d x I)", 2560, 6912, 1, 1},
      {"2.7B lm_head", 32000, 2560, 1, 1},           {"4096 x 14336", 4096, 14336, 1, 1},
      {"14336 x 4096", 14336, 4096, 1, 1},           {"2.7B gate (2I x d)", 13824, 2560, 1, 8},
      {"2.7B gate (2I x d)", 13824, 2560, 1, 16},    {"4096 x 14336", 4096, 14336, 1, 16},
      {"2.7B gate (2I x d)", 13824, 2560, 1, 64},    {"2.7B i,f,g (one launch)", 2560, 2560, 3, 2048},
      {"2.7B o", 2560, 2560, 1, 2048},               {"2.7B gate (2I x d)", 13824, 2560, 1, 2048},
      {"2.7B down (d x I)", 2560, 6912, 1, 2048},    {"4096 x 14336", 4096, 14336, 1, 2048},
  };
  std::printf("\n| product | n | packed MB | launch | us/launch | GB/s of weights | %% of probe | int8 TOPS |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const Shape& sh : shapes) {
    std::vector<ProductTuning> tunings = {{}};
    if (sweep && sh.n <= 16) tunings = {{}, {1, 0}, {2, 0}, {4, 0}, {8, 0}, {16, 0}};
    if (sweep && sh.n > 32) tunings = {{}, {0, 64}};
    for (const ProductTuning tuning : tunings) {
      const ProductTiming t = time_products(sh.rows, sh.cols, sh.count, sh.n, tuning, false, dev.l2_bytes, s);
      const double gbps = static_cast<double>(t.launch_bytes) / (t.us_per_launch * 1e-6) / 1e9;
      const double tops = 2.0 * static_cast<double>(sh.rows * sh.cols * sh.count * sh.n) / (t.us_per_launch * 1e-6) / 1e12;
      const std::string shape = (tuning.k_warps ? "kw " + std::to_string(tuning.k_warps) : std::string("auto")) +
                                (tuning.warp_tokens ? ", " + std::to_string(tuning.warp_tokens) + " tok/warp" : "");
      std::printf("| %s | %lld | %.2f | %s | %.2f | %.0f | %.1f%% | %.1f |\n", sh.name, static_cast<long long>(sh.n),
                  static_cast<double>(t.launch_bytes) / 1e6, shape.c_str(), t.us_per_launch, gbps, 100.0 * gbps / probe_gbps,
                  tops);
    }
  }
}

// The float kernels at the 2.7B's shapes: their time is latency, not bytes, at small batches.
void bench_float_kernels(cudaStream_t s) {
  const int64_t d = 2560, I = 6912, T = 2048;
  const int64_t sd = padded_cols(d), sI = padded_cols(I);
  std::printf("\n| float kernel (2.7B shapes) | rows | us/launch |\n| --- | --- | --- |\n");
  for (int64_t n : {int64_t{1}, int64_t{64}, T}) {
    DeviceBuffer<float> x(n * d), add(n * d), norms(4 * d + I), gv(n * 2 * I), hs(n * d), state(n * d);
    DeviceBuffer<int8_t> q(3 * n * sI);
    DeviceBuffer<float> sx(3 * n);
    DeviceBuffer<int32_t> sums(3 * n);
    fill_floats(x.data(), x.size(), 1, 0.0f, 1.0f, s);
    fill_floats(add.data(), add.size(), 2, 0.0f, 0.1f, s);
    fill_floats(norms.data(), norms.size(), 3, 1.0f, 0.2f, s);
    fill_floats(gv.data(), gv.size(), 4, 0.0f, 2.0f, s);
    fill_floats(hs.data(), hs.size(), 5, 0.0f, 1.0f, s);
    fill_floats(state.data(), state.size(), 6, 0.0f, 1.0f, s);
    auto target = [&](int j, const float* w) {
      return QuantTarget{w, q.data() + j * n * sI, sx.data() + j * n, sums.data() + j * n};
    };
    const QuantTarget ifg[] = {target(0, norms.data() + d), target(1, norms.data() + 2 * d), target(2, norms.data() + 3 * d)};
    const QuantTarget one[] = {target(0, norms.data() + 4 * d)};
    auto time = [&](const char* name, auto enqueue) {
      const int per_graph = n > 64 ? 10 : 100;
      cudaGraphExec_t exec = capture(s, [&] {
        for (int r = 0; r < per_graph; ++r) enqueue();
      });
      std::printf("| %s | %lld | %.2f |\n", name, static_cast<long long>(n), time_graph(exec, per_graph, s) * 1e3);
      cudaGraphExecDestroy(exec);
    };
    time("residual add + RMSNorm + 3 quantisations (d)", [&] { norm_quantize(x.data(), add.data(), d, norms.data(), 1e-6f, n, d, ifg, sd, s); });
    time("gated RMSNorm + quantisation (d)", [&] { gated_norm_quantize(gv.data(), hs.data(), d, norms.data(), 1e-6f, n, d, one, sd, s); });
    time("GLU + quantisation (I)", [&] { glu_quantize(gv.data(), 2 * I, n, I, one, sI, s); });
    if (n == T) time("MLGRU scan, 1 x 2048 steps (d)", [&] { mlgru_scan(x.data(), add.data(), d, norms.data(), 1, T, d, state.data(), d, hs.data(), d, s); });
    else time("MLGRU step (d)", [&] { mlgru_scan(x.data(), add.data(), d, norms.data(), n, 1, d, state.data(), d, hs.data(), d, s); });
  }
}

// One forward step of the 2.7B over B sequences of T tokens as the backend can run it (T = 1:
// a decode step of batch B; B = 1: a prefill of T tokens): per layer 4 launches of products (i/f/g,
// o, gate, down) and 4 of float work (3 in decode: the MLGRU step goes inside the output gate's
// kernel), then the final norm and the LM head of each sequence's last token, in one graph.
void bench_step(double probe_gbps, int64_t B, int64_t T, cudaStream_t s) {
  const int64_t n = B * T;
  const int64_t d = 2560, I = 6912, V = 32000, L = 32;
  const int64_t sd = padded_cols(d), sI = padded_cols(I);
  struct Layer {
    DeviceBuffer<uint8_t> i, f, g, o, gate, down;
    DeviceBuffer<float> norms;  // attn_norm, i, f, g norms, g_norm, o norm, mlp_norm, gate norm (d each), down norm (I)
  };
  int64_t weight_bytes = 0;
  std::vector<Layer> layers;
  for (int64_t l = 0; l < L; ++l) {
    Layer ly{DeviceBuffer<uint8_t>(mma_bytes(d, d)),     DeviceBuffer<uint8_t>(mma_bytes(d, d)),
             DeviceBuffer<uint8_t>(mma_bytes(d, d)),     DeviceBuffer<uint8_t>(mma_bytes(d, d)),
             DeviceBuffer<uint8_t>(mma_bytes(2 * I, d)), DeviceBuffer<uint8_t>(mma_bytes(d, I)),
             DeviceBuffer<float>(8 * d + I)};
    for (auto* b : {&ly.i, &ly.f, &ly.g, &ly.o, &ly.gate, &ly.down}) {
      fill_codes(b->data(), b->size(), static_cast<uint32_t>(l * 10 + weight_bytes % 7), s);
      weight_bytes += b->size();
    }
    fill_floats(ly.norms.data(), ly.norms.size(), static_cast<uint32_t>(500 + l), 1.0f, 0.2f, s);
    layers.push_back(std::move(ly));
  }
  DeviceBuffer<uint8_t> head(mma_bytes(V, d));
  fill_codes(head.data(), head.size(), 999, s);
  weight_bytes += head.size();
  DeviceBuffer<float> head_norms(2 * d), lb(L * d);
  fill_floats(head_norms.data(), head_norms.size(), 3, 1.0f, 0.2f, s);
  fill_floats(lb.data(), lb.size(), 4, 0.5f, 0.4f, s);

  DeviceBuffer<float> x(n * d), y_i(n * d), y_f(n * d), y_g(n * d), hs(n * d), state(L * B * d), y_o(n * d), gv(n * 2 * I),
      y_down(n * d), logits(B * V);
  fill_floats(x.data(), x.size(), 5, 0.0f, 1.0f, s);
  fill_floats(y_down.data(), y_down.size(), 6, 0.0f, 0.1f, s);
  fill_floats(state.data(), state.size(), 7, 0.0f, 0.5f, s);
  DeviceBuffer<int8_t> q(4 * n * sI);
  DeviceBuffer<float> sx(4 * n);
  DeviceBuffer<int32_t> sums(4 * n);
  auto target = [&](int j, const float* w) {
    return QuantTarget{w, q.data() + j * n * sI, sx.data() + j * n, sums.data() + j * n};
  };
  auto acts = [&](int j, int64_t k) {
    return DeviceActivations{q.data() + j * n * sI, padded_cols(k), sums.data() + j * n, sx.data() + j * n, n, k};
  };
  const float eps = 1e-6f;
  cudaGraphExec_t exec = capture(s, [&] {
    for (int64_t l = 0; l < L; ++l) {
      Layer& ly = layers[static_cast<size_t>(l)];
      const float* nw = ly.norms.data();
      const QuantTarget ifg[] = {target(0, nw + d), target(1, nw + 2 * d), target(2, nw + 3 * d)};
      norm_quantize(x.data(), y_down.data(), d, nw, eps, n, d, ifg, sd, s);  // x += previous down; attn_norm
      const Product p_ifg[] = {{{ly.i.data(), d, d}, acts(0, d), {nullptr, y_i.data(), d, 0.5f}},
                               {{ly.f.data(), d, d}, acts(1, d), {nullptr, y_f.data(), d, 0.5f}},
                               {{ly.g.data(), d, d}, acts(2, d), {nullptr, y_g.data(), d, 0.5f}}};
      ternary_product(p_ifg, s);
      const QuantTarget o_t[] = {target(0, nw + 5 * d)};
      const float* layer_lb = l ? lb.data() + l * d : nullptr;
      if (T == 1) {  // decode: the MLGRU step inside the output gate's kernel
        mlgru_step_gated_quantize(y_i.data(), y_f.data(), layer_lb, state.data() + l * B * d, nullptr, d, y_g.data(), d,
                                  nw + 4 * d, eps, n, d, o_t, sd, s);
      } else {
        mlgru_scan(y_i.data(), y_f.data(), d, layer_lb, B, T, d, state.data() + l * B * d, d, hs.data(), d, s);
        gated_norm_quantize(y_g.data(), hs.data(), d, nw + 4 * d, eps, n, d, o_t, sd, s);
      }
      const Product p_o{{ly.o.data(), d, d}, acts(0, d), {nullptr, y_o.data(), d, 0.5f}};
      ternary_product({&p_o, 1}, s);
      const QuantTarget gate_t[] = {target(0, nw + 7 * d)};
      norm_quantize(x.data(), y_o.data(), d, nw + 6 * d, eps, n, d, gate_t, sd, s);  // x += o; mlp_norm
      const Product p_gate{{ly.gate.data(), 2 * I, d}, acts(0, d), {nullptr, gv.data(), 2 * I, 0.5f}};
      ternary_product({&p_gate, 1}, s);
      const QuantTarget down_t[] = {target(0, nw + 8 * d)};
      glu_quantize(gv.data(), 2 * I, n, I, down_t, sI, s);
      const Product p_down{{ly.down.data(), d, I}, acts(0, I), {nullptr, y_down.data(), d, 0.5f}};
      ternary_product({&p_down, 1}, s);
    }
    // The LM head reads each sequence's last token: every row in decode, the last row of a prefill (B = 1).
    const int64_t first = T == 1 ? 0 : n - 1, rows = T == 1 ? n : 1;
    const QuantTarget head_t[] = {target(0, head_norms.data() + d)};
    norm_quantize(x.data() + first * d, y_down.data() + first * d, d, head_norms.data(), eps, rows, d, head_t, sd, s);
    const Product p_head{{head.data(), V, d},
                         {q.data(), sd, sums.data(), sx.data(), rows, d},
                         {nullptr, logits.data(), V, 0.5f}};
    ternary_product({&p_head, 1}, s);
  });
  const float ms = time_graph(exec, 1, s, T > 1 ? 5 : 21);
  cudaGraphExecDestroy(exec);
  const double gbps = static_cast<double>(weight_bytes) / (ms * 1e-3) / 1e9;
  std::printf("| 2.7B %s %lld x %lld (%lld launches) | %.1f | %.1f | %.0f | %.1f%% | %.0f |\n", T == 1 ? "decode" : "prefill",
              static_cast<long long>(B), static_cast<long long>(T), static_cast<long long>(L * (T == 1 ? 7 : 8) + 2),
              static_cast<double>(weight_bytes) / 1e6, ms * 1e3, gbps, 100.0 * gbps / probe_gbps,
              static_cast<double>(n) * 1e3 / ms);
}

int run(int argc, char** argv) {
  int device = 0;
  bool sweep = false;
  std::string only;
  for (int a = 1; a < argc; ++a) {
    if (!std::strcmp(argv[a], "--sweep")) sweep = true;
    else if (!std::strcmp(argv[a], "--device") && a + 1 < argc) device = std::atoi(argv[++a]);
    else if (!std::strcmp(argv[a], "--only") && a + 1 < argc) only = argv[++a];
    else {
      std::fprintf(stderr, "usage: mmfree_cuda_bench [--device N] [--sweep] [--only products|float|step]\n");
      return 2;
    }
  }
  const DeviceInfo dev = select_device(device);
  std::printf("device %d: %s, compute capability %d.%d, %d SMs, %.1f GiB, L2 %.0f MiB\n", dev.index, dev.name.c_str(),
              dev.cc_major, dev.cc_minor, dev.sm_count, static_cast<double>(dev.global_bytes) / (1 << 30),
              static_cast<double>(dev.l2_bytes) / (1 << 20));
  Stream s;
  const ReadBandwidth probe = measure_read_bandwidth(int64_t{2} << 30, 21, s.get());
  std::printf("read probe: %.0f GB/s (median of 21 passes over %lld MiB, %.3f ms each)\n", probe.gbps,
              static_cast<long long>(probe.bytes >> 20), probe.median_ms);
  if (only.empty() || only == "products") bench_products(dev, probe.gbps, sweep, s.get());
  if (only.empty() || only == "float") bench_float_kernels(s.get());
  if (only.empty() || only == "step") {
    std::printf("\n| forward step, B x T | packed MB | us/step | GB/s of weights | %% of probe | tokens/s |\n| --- | --- | --- | --- | --- | --- |\n");
    for (int64_t B : {1, 16, 64}) bench_step(probe.gbps, B, 1, s.get());
    bench_step(probe.gbps, 1, 2048, s.get());
  }
  return 0;
}

}  // namespace
}  // namespace mmfree::cuda::bench

int main(int argc, char** argv) {
  try {
    return mmfree::cuda::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmfree: error: %s\n", e.what());
    return 1;
  }
}
