// The persistent thread pool: every index exactly once, for many sizes and in quick succession.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "util/thread_pool.h"

namespace mmfree {
namespace {

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t count : {0, 1, 2, 7, 64, 1000, 4097})
      for (int64_t grain : {1, 3, 16, 5000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
        pool.parallel_for(count, grain, [&](int64_t b, int64_t e) {
          EXPECT_LE(e - b, grain);
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        });
        for (int64_t i = 0; i < count; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << count << "/" << grain << " @" << i;
      }
  }
}

TEST(ThreadPool, ManyShortJobsInARow) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  for (int rep = 0; rep < 3000; ++rep)
    pool.parallel_for(6, 1, [&](int64_t b, int64_t e) { total.fetch_add(e - b, std::memory_order_relaxed); });
  EXPECT_EQ(total.load(), 3000 * 6);
}

TEST(ThreadPool, UsesSeveralThreads) {
  ThreadPool pool(2);
  std::atomic<int> inside{0}, most{0};
  pool.parallel_for(2, 1, [&](int64_t, int64_t) {
    const int now = ++inside;
    int m = most.load();
    while (now > m && !most.compare_exchange_weak(m, now)) {
    }
    // Both chunks wait for each other, so this only finishes when two threads run at once.
    while (most.load() < 2) std::this_thread::yield();
    --inside;
  });
  EXPECT_EQ(most.load(), 2);
}

TEST(ThreadPool, PhysicalCoresAtLeastOne) { EXPECT_GE(physical_core_count(), 1); }

}  // namespace
}  // namespace mmfree
