// mmfree bench-kernel: one ternary x int8 product (m outputs, k inputs, n tokens) on random data,
// timed over repetitions, to compare with other engines' kernel benchmarks (2*m*n*k int-ops/run).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "cli/command.h"
#include "kernels/cpu_isa.h"
#include "kernels/ternary_matmul.h"
#include "util/aligned_buffer.h"
#include "util/error.h"
#include "util/machine_stats.h"
#include "util/thread_pool.h"

#if defined(MMFREE_CUDA)
#include "backend/cuda/product_bench.h"
#endif

namespace mmfree::cli {
namespace {

struct BenchKernelOptions {
  int64_t m = 4096, k = 14336, n = 1;
  int threads = 0;
  std::string format = "tq2_0_r8", isa, device = "cpu";
  int reps = 0, products = 1;
  std::string path = "auto";
  bool json = false, hot = false;
};

// Weight bytes cycled through so that every run reads its weights from memory, not from a cache
// that kept the previous run's copy: 256 MiB, or twice the last-level cache where that is larger
// (the 2-core VM reports a 480 MiB L3).
int64_t cold_bytes() { return std::max<int64_t>(int64_t{256} << 20, 2 * last_level_cache_bytes()); }
constexpr int64_t kMaxDim = int64_t{1} << 20;

// The 1-minute load average (-1 where unknown): the machine may be shared, and other work on its
// cores slows every run; the figure says how much there was.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double l = -1;
  if (!(in >> l)) return -1;
  return l;
}

// CPU time of the whole process (all its threads, spinning included), in microseconds. With one
// thread it is the kernel's own time, whatever else the machine runs.
double process_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double pos = p * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// On a GPU: the product as a decode step runs it, launches captured in one CUDA graph (the gaps
// between dependent launches included, no host overhead), the weights in the device's layout.
void run_cuda(const BenchKernelOptions& o) {
  check(o.isa.empty() && o.threads == 0, "--isa and --threads apply to --device cpu");
  check(o.path == "auto" || o.path == "warp" || o.path == "tiled", "--path " + o.path + ": auto, warp or tiled");
  // Refuses, with the usual message, a device this build or this machine does not have.
  make_backend(DeviceOptions{.device = o.device, .threads = 0, .isa = ""});
#if defined(MMFREE_CUDA)
  const int replays = o.reps > 0 ? o.reps : 7;
  const CudaProductBench r = bench_cuda_product(o.device, o.m, o.k, o.n, o.products, o.path, replays, o.hot);
  const double ops = 2.0 * static_cast<double>(o.products) * static_cast<double>(o.m) * static_cast<double>(o.n) *
                     static_cast<double>(o.k);
  const double gops = ops / r.us_per_run / 1e3;
  const double weight_gbs = static_cast<double>(r.weight_bytes) / r.us_per_run / 1e3;
  const nlohmann::json roofline = r.bandwidth_gbs > 0 ? nlohmann::json(weight_gbs / r.bandwidth_gbs) : nlohmann::json();
  if (o.json) {
    const nlohmann::json j = {{"m", o.m},
                              {"k", o.k},
                              {"n", o.n},
                              {"products", o.products},
                              {"path", o.path},
                              {"format", "mma16"},
                              {"device", r.device},
                              {"reps", replays},
                              {"launches_per_graph", r.launches_per_graph},
                              {"copies", r.copies},
                              {"weights_from_memory", !o.hot},
                              {"us_per_run", r.us_per_run},
                              {"gops", gops},
                              {"weight_bytes", r.weight_bytes},
                              {"weight_gbs", weight_gbs},
                              {"bandwidth_gbs", r.bandwidth_gbs},
                              {"roofline_fraction", roofline}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("mma16 %d x m=%lld k=%lld n=%lld, %s path | %s, weights %s\n", o.products, static_cast<long long>(o.m),
              static_cast<long long>(o.k), static_cast<long long>(o.n), o.path.c_str(), r.device.c_str(),
              o.hot ? "reused (cache-hot)" : ("cycled through " + std::to_string(r.copies) + " copies, from memory").c_str());
  std::printf("%.2f us/run (median of %d replays of a CUDA graph of %d launches, per launch)\n", r.us_per_run, replays,
              r.launches_per_graph);
  std::printf("%.1f G int-ops/s, %.1f GB/s of weights (%lld bytes)\n", gops, weight_gbs, static_cast<long long>(r.weight_bytes));
  if (!o.hot)
    std::printf("machine: %.1f GB/s streaming read -> the product at %.1f%% of it\n", r.bandwidth_gbs,
                100 * weight_gbs / r.bandwidth_gbs);
#else
  throw Error("internal: --device " + o.device + " passed make_backend in a build without CUDA");
#endif
}

void run(const BenchKernelOptions& o) {
  if (o.device == "cpu")
    check(o.products == 1 && o.path == "auto", "--products and --path apply to --device cuda");
  if (o.device != "cpu") {
    check(o.device.rfind("cuda", 0) == 0, "--device " + o.device + ": bench-kernel times cpu, cuda or cuda:N");
    return run_cuda(o);
  }
  const TernaryFormat f = parse_format(o.format);
  check(format_fits(f, o.k), "--k " + std::to_string(o.k) + ": format " + o.format + " needs a multiple of 256");
  const Isa isa = o.isa.empty() ? best_isa() : parse_isa(o.isa);
  check(isa_available(isa), std::string("--isa ") + isa_name(isa) + ": not available on this CPU");
  ThreadPool pool(o.threads);
  const int reps = o.reps > 0 ? o.reps : (o.n == 1 ? 200 : 10);

  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> tern(-1, 1), act(-128, 127);
  std::vector<int8_t> t(static_cast<size_t>(o.m * o.k)), q(static_cast<size_t>(o.n * o.k));
  for (auto& v : t) v = static_cast<int8_t>(tern(rng));
  for (auto& v : q) v = static_cast<int8_t>(act(rng));
  // Each copy starts on a cache line, as a tensor in a model file does.
  const int64_t matrix_bytes = (format_matrix_bytes(f, o.m, o.k) + 63) / 64 * 64;
  const int64_t read_bytes = o.m * format_row_bytes(f, o.k);  // what one product reads (no TQ2_0_R8 d)
  const int64_t copies = o.hot ? 1 : std::max<int64_t>(1, (cold_bytes() + matrix_bytes - 1) / matrix_bytes);
  AlignedBuffer<uint8_t> weights(static_cast<size_t>(copies * matrix_bytes));
  pack_ternary(f, t.data(), o.m, o.k, 1.0f, weights.data());
  for (int64_t c = 1; c < copies; ++c)
    std::copy_n(weights.data(), matrix_bytes, weights.data() + c * matrix_bytes);
  t = {};

  ActivationBuffer acts;
  acts.reserve(o.n, o.k);
  const PreparedActivations x = acts.prepare(f, q.data(), o.n, o.k, &pool);
  std::vector<int32_t> y(static_cast<size_t>(o.n * o.m));
  auto once = [&](int64_t copy) {
    const TernaryMatrix w{f, weights.data() + copy * matrix_bytes, o.m, o.k};
    ternary_matmul(w, x, MatmulOutput{y.data()}, &pool, isa);
  };
  for (int i = 0; i < 3; ++i) once(i % copies);  // warm-up: threads awake, pages touched
  const double load = load_average();
  std::vector<double> us, cpu_us;
  us.reserve(static_cast<size_t>(reps));
  cpu_us.reserve(static_cast<size_t>(reps));
  for (int r = 0; r < reps; ++r) {
    const double c0 = process_cpu_us();
    const auto t0 = std::chrono::steady_clock::now();
    once(r % copies);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    cpu_us.push_back(process_cpu_us() - c0);
  }
  const double cpu_median = percentile(cpu_us, 0.5);
  const double median = percentile(us, 0.5);
  const double ops = 2.0 * static_cast<double>(o.m) * static_cast<double>(o.n) * static_cast<double>(o.k);
  const double gops = ops / median / 1e3;
  const double weight_gbs = static_cast<double>(read_bytes) / median / 1e3;
  // From memory, the product is a stream of weights: set it against what this machine's memory
  // delivers right now (the machine may be shared, so the two are taken in the same run).
  // The copies the timed runs cycle through (after the warm-up): when they fit in the cache, a
  // product reads from it, and a share of the memory bandwidth (above 100% for small matrices)
  // would mean nothing, so the bandwidth is not measured.
  const int64_t cache = last_level_cache_bytes();
  const int64_t working_set = std::min<int64_t>(copies, reps + 3) * matrix_bytes;
  const bool in_cache = o.hot || working_set <= cache;
  const double bandwidth = in_cache ? 0 : measure_read_bandwidth_gbs(pool.size(), size_t{1} << 30, 5);
  const nlohmann::json roofline = bandwidth > 0 ? nlohmann::json(weight_gbs / bandwidth) : nlohmann::json();
  if (o.json) {
    nlohmann::json j = {{"m", o.m},
                        {"k", o.k},
                        {"n", o.n},
                        {"format", o.format},
                        {"isa", isa_name(isa)},
                        {"threads", pool.size()},
                        {"reps", reps},
                        {"weights_from_memory", !o.hot},
                        {"us_per_run", median},
                        {"us_min", percentile(us, 0.0)},
                        {"us_p10", percentile(us, 0.1)},
                        {"us_p90", percentile(us, 0.9)},
                        {"us_max", percentile(us, 1.0)},
                        {"gops", gops},
                        {"weight_bytes", read_bytes},
                        {"weight_gbs", weight_gbs},
                        {"bandwidth_gbs", bandwidth},
                        {"working_set_bytes", working_set},
                        {"last_level_cache_bytes", cache},
                        {"weights_fit_in_cache", in_cache},
                        {"roofline_fraction", roofline},
                        {"load_average_1m", load},
                        {"cpu_us_per_run", cpu_median}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s m=%lld k=%lld n=%lld | %s, %d threads, weights %s, load average %.2f\n", o.format.c_str(),
                static_cast<long long>(o.m), static_cast<long long>(o.k), static_cast<long long>(o.n), isa_name(isa),
                pool.size(), o.hot ? "reused (cache-hot)" : in_cache ? "cycled, within the cache" : "from memory", load);
    std::printf("%.1f us/run (median of %d; min %.1f, p10 %.1f, p90 %.1f, max %.1f)\n", median, reps, percentile(us, 0.0),
                percentile(us, 0.1), percentile(us, 0.9), percentile(us, 1.0));
    std::printf("%.1f G int-ops/s, %.1f GB/s of weights (%lld bytes)\n", gops, weight_gbs, static_cast<long long>(read_bytes));
    if (!o.hot && in_cache)
      std::printf("weights: the %.1f MB of copies the runs cycle through fit in the %.1f MB last-level cache, so "
                  "the reads can come from cache: no share of the memory bandwidth (more --reps or larger --m/--k give one)\n",
                  static_cast<double>(working_set) / 1e6, static_cast<double>(cache) / 1e6);
    else if (!o.hot)
      std::printf("machine: %.1f GB/s streaming read (%d threads) -> the product at %.1f%% of it\n", bandwidth,
                  pool.size(), 100 * weight_gbs / bandwidth);
    std::printf("process CPU time per run: %.1f us (median; all threads, spinning included)\n", cpu_median);
  }
}

void setup(CLI::App& app) {
  auto o = std::make_shared<BenchKernelOptions>();
  auto* cmd = app.add_subcommand("bench-kernel", "Time one ternary x int8 product (m outputs, k inputs, n tokens)");
  cmd->add_option("--m", o->m, "Output rows")->capture_default_str()->check(CLI::Range(int64_t{1}, kMaxDim));
  cmd->add_option("--k", o->k, "Inputs per row (a multiple of 256 for tq2_0_r8/tq2_0/tq1_0)")->capture_default_str()->check(CLI::Range(int64_t{1}, kMaxDim));
  cmd->add_option("--n", o->n, "Tokens (1: decode, matrix-vector)")->capture_default_str()->check(CLI::Range(int64_t{1}, kMaxDim));
  cmd->add_option("--device", o->device, "Where: cpu, or cuda / cuda:N (the GPU runs every format from its own 2-bit layout)")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (default: physical cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("--format", o->format, "Weight format: tq2_0_r8 (mmfree's layout), tq2_0, tq1_0 or i8")->capture_default_str();
  cmd->add_option("--isa", o->isa, "Instruction set: scalar, avx2, avx512, avx512vnni (default: the best this CPU has)");
  cmd->add_option("--reps", o->reps, "Timed repetitions (default: 200 for n=1, else 10; cuda: graph replays, default 7)")->check(CLI::Range(1, 1000000));
  cmd->add_option("--products", o->products, "cuda: products in one launch sharing the token count, as the "
                  "MLGRU's i, f, g (each m x k, its own activations; G int-ops counts them all)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4));
  cmd->add_option("--path", o->path, "cuda: which kernel: auto, warp (registers) or tiled (shared memory)")
      ->capture_default_str();
  cmd->add_flag("--hot", o->hot, "Reuse one copy of the weights (cache-hot) instead of cycling through copies (256 MiB, or twice the "
                "last-level cache)");
  cmd->add_flag("--json", o->json, "Print one JSON object (us_per_run, gops, ...)");
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
