// The persistent thread pool: every index exactly once, for many sizes and in quick succession.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
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

// Thread t takes chunk t first (the caller chunk 0), so read_ahead_while_idle can say what each
// worker will read.
TEST(ThreadPool, EachThreadStartsOnItsOwnChunk) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<std::thread::id> by(9);
    std::atomic<int> started{0};
    pool.parallel_for(9, 1, [&](int64_t b, int64_t) {
      by[static_cast<size_t>(b)] = std::this_thread::get_id();
      // The first three chunks wait until all three have started: no thread can take two of them.
      if (b < 3) {
        ++started;
        while (started.load() < 3) std::this_thread::yield();
      }
    });
    ASSERT_EQ(by[0], std::this_thread::get_id()) << "rep " << rep;
    ASSERT_NE(by[1], by[0]);
    ASSERT_NE(by[2], by[0]);
    ASSERT_NE(by[1], by[2]);
  }
}

// Read-ahead ranges are only a hint: announced between jobs (more of them than workers, empty
// ones, twice before a job), the jobs that follow still cover every index once.
TEST(ThreadPool, ReadAheadDoesNotDisturbJobs) {
  ThreadPool pool(3);
  std::vector<uint8_t> memory(1 << 20, 1);
  for (int rep = 0; rep < 500; ++rep) {
    std::vector<std::atomic<int>> hits(100);
    pool.parallel_for(100, 7, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    for (const auto& h : hits) ASSERT_EQ(h.load(), 1) << "rep " << rep;
    ThreadPool::ReadAhead ranges[4];
    for (int w = 0; w < 4; ++w) {
      ranges[w].streams = w % 3;
      for (int s = 0; s < ranges[w].streams; ++s) ranges[w].start[s] = memory.data() + (w * 4 + s) * 65536;
      ranges[w].bytes = 65536;
    }
    pool.read_ahead_while_idle(ranges);
    pool.read_ahead_while_idle({ranges, 1});
  }
}

TEST(ThreadPool, PhysicalCoresAtLeastOne) { EXPECT_GE(physical_core_count(), 1); }

}  // namespace
}  // namespace mmfree
