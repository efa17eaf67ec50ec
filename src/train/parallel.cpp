#include "train/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace mmfree {

namespace {
std::atomic<int> configured_threads{0};  // 0: one per hardware thread
}

void set_parallel_threads(int n) { configured_threads = std::max(n, 0); }

int parallel_threads() {
  const int n = configured_threads;
  return n > 0 ? n : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int parallel_for(int64_t n, int64_t min_per_part, const std::function<void(int64_t, int64_t, int)>& fn) {
  const int64_t by_size = n / std::max<int64_t>(min_per_part, 1);
  const int parts = static_cast<int>(std::clamp<int64_t>(by_size, 1, parallel_threads()));
  if (parts == 1) {
    if (n > 0) fn(0, n, 0);
    return 1;
  }
  auto range = [&](int p) { return std::pair<int64_t, int64_t>{n * p / parts, n * (p + 1) / parts}; };
  {
    std::vector<std::jthread> helpers;
    helpers.reserve(static_cast<size_t>(parts - 1));
    for (int p = 1; p < parts; ++p)
      helpers.emplace_back([&, p] {
        auto [b, e] = range(p);
        fn(b, e, p);
      });
    auto [b, e] = range(0);
    fn(b, e, 0);
  }
  return parts;
}

}  // namespace mmfree
