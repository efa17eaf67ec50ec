#include "train/fp32_peak.h"

#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "kernels/blas.h"
#include "util/thread_pool.h"

namespace mmfree {

namespace {

constexpr int64_t kIterations = 50'000'000;
constexpr int kChains = 16;  // independent accumulators: more than FMA latency x ports

// Each returns the flops it did; the sum keeps the compiler from dropping the work.
__attribute__((target("avx512f"))) double fma_loop_avx512(float* sink) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.001f * static_cast<float>(c));
  const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-6f);
  for (int64_t i = 0; i < kIterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
  alignas(64) float lanes[16];
  float s = 0;
  for (int c = 0; c < kChains; ++c) {
    _mm512_store_ps(lanes, acc[c]);
    for (float v : lanes) s += v;
  }
  *sink = s;
  return 2.0 * 16 * kChains * static_cast<double>(kIterations);
}

__attribute__((target("avx2,fma"))) double fma_loop_avx2(float* sink) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(0.001f * static_cast<float>(c));
  const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-6f);
  for (int64_t i = 0; i < kIterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
  alignas(32) float lanes[8];
  float s = 0;
  for (int c = 0; c < kChains; ++c) {
    _mm256_store_ps(lanes, acc[c]);
    for (float v : lanes) s += v;
  }
  *sink = s;
  return 2.0 * 8 * kChains * static_cast<double>(kIterations);
}

double fma_loop_scalar(float* sink) {
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = 0.001f * static_cast<float>(c);
  for (int64_t i = 0; i < kIterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * 0.999999f + 1e-6f;
  float s = 0;
  for (float v : acc) s += v;
  *sink = s;
  return 2.0 * kChains * static_cast<double>(kIterations);
}

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

double process_cpu_seconds() { return cpu_seconds(CLOCK_PROCESS_CPUTIME_ID); }

PeakMeasurement fma_peak(int threads, int reps) {
  using clock = std::chrono::steady_clock;
  double (*loop)(float*) = fma_loop_scalar;
  std::string isa = "scalar";
  if (__builtin_cpu_supports("avx512f")) {
    loop = fma_loop_avx512;
    isa = "AVX-512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    loop = fma_loop_avx2;
    isa = "AVX2";
  }
  std::vector<float> sinks(static_cast<size_t>(threads));
  std::vector<double> flops(static_cast<size_t>(threads)), cpu_s(static_cast<size_t>(threads));
  PeakMeasurement best;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = clock::now();
    {
      std::vector<std::jthread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          const double c0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
          flops[t] = loop(&sinks[t]);
          cpu_s[t] = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
        });
    }
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    double total = 0, per_cpu = 0;
    for (int t = 0; t < threads; ++t) {
      total += flops[t];
      per_cpu += flops[t] / cpu_s[t];
    }
    best.gflops = std::max(best.gflops, total / s / 1e9);
    best.gflops_cpu_time = std::max(best.gflops_cpu_time, per_cpu / 1e9);
  }
  best.how = isa + " FMA loop, " + std::to_string(threads) + " thread(s), best of " + std::to_string(reps);
  return best;
}

PeakMeasurement sgemm_peak(int64_t n, int reps, int threads) {
  ThreadPool pool(threads);
  using clock = std::chrono::steady_clock;
  const auto size = static_cast<size_t>(n * n);
  std::vector<float> a(size), b(size), c(size);
  for (size_t k = 0; k < size; ++k) {
    a[k] = static_cast<float>(k % 7) * 0.1f;
    b[k] = static_cast<float>(k % 5) * 0.1f;
  }
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  PeakMeasurement best;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = clock::now();
    const double c0 = process_cpu_seconds();
    blas::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n, &pool);
    const double cpu = process_cpu_seconds() - c0;
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    best.gflops = std::max(best.gflops, flops / s / 1e9);
    best.gflops_cpu_time = std::max(best.gflops_cpu_time, flops / (cpu / pool.size()) / 1e9);
  }
  best.how = "OpenBLAS sgemm " + std::to_string(n) + "^3 (" + blas::core_name() + " kernels) as training calls it, " +
             std::to_string(pool.size()) + " thread(s), best of " + std::to_string(reps);
  return best;
}

}  // namespace mmfree
