#include "util/machine_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace mmfree {

namespace {

// The read loops, cloned per instruction set and picked at load time, so that they use the widest
// loads the CPU has while the binary still runs on any x86-64. Two ways of reading, because which
// draws more from memory differs between machines (measured on the dev VM's Zen 5, 2 threads: one
// plain stream 62 GB/s, four streams with non-temporal prefetch 67 GB/s): the probe reports the
// better, so that the roofline is the most this machine was seen to deliver, not a weak loop's.
__attribute__((target_clones("avx512f", "avx2", "default"))) uint64_t sum_one_stream(const uint64_t* p, size_t n) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  for (; i < n; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
}

// Four quarters of the range side by side, each prefetched 1 KiB ahead (non-temporal).
__attribute__((target_clones("avx512f", "avx2", "default"))) uint64_t sum_four_streams(const uint64_t* p, size_t n) {
  constexpr size_t kLine = 8, kAhead = 128;  // words: one cache line, 1 KiB
  const size_t q = n / 4 / kLine * kLine;
  uint64_t s[4][kLine] = {};
  for (size_t i = 0; i < q; i += kLine)
    for (size_t k = 0; k < 4; ++k) {
      const uint64_t* line = p + k * q + i;
      __builtin_prefetch(line + kAhead, 0, 0);
      for (size_t w = 0; w < kLine; ++w) s[k][w] += line[w];
    }
  uint64_t total = 0;
  for (auto& lane : s)
    for (uint64_t v : lane) total += v;
  for (size_t i = 4 * q; i < n; ++i) total += p[i];
  return total;
}
}  // namespace

double measure_read_bandwidth_gbs(int threads, size_t bytes, int passes) {
  threads = std::max(threads, 1);
  const size_t words = bytes / sizeof(uint64_t), per = words / static_cast<size_t>(threads);
  auto buf = std::make_unique_for_overwrite<uint64_t[]>(words);
  auto parallel = [&](auto&& body) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(body, static_cast<size_t>(t) * per);
    for (auto& th : pool) th.join();
  };
  // Each thread first touches the part it reads, so pages sit near the core that streams them.
  parallel([&](size_t begin) {
    for (size_t i = begin; i < begin + per; ++i) buf[i] = i;
  });
  double best = 0;
  std::vector<uint64_t> sinks(static_cast<size_t>(threads));
  for (auto* sum : {sum_one_stream, sum_four_streams})
    for (int pass = 0; pass < passes; ++pass) {
      const auto t0 = std::chrono::steady_clock::now();
      parallel([&](size_t begin) { sinks[begin / per] = sum(buf.get() + begin, per); });
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, static_cast<double>(per * static_cast<size_t>(threads) * sizeof(uint64_t)) / s / 1e9);
    }
  volatile uint64_t keep = 0;  // the sums must be used or the reads could be dropped
  for (auto s : sinks) keep = keep + s;
  return best;
}

int64_t peak_rss_bytes() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux reports kilobytes
}

int64_t last_level_cache_bytes() {
  for (int name : {_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE})
    if (const long v = sysconf(name); v > 0) return v;
  return 0;
}

}  // namespace mmfree
