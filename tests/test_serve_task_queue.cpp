// The elastic pool that serves the HTTP connections (src/serve/task_queue.cpp): every job runs,
// never more threads than allowed, threads started for a burst end once idle (down to the ones
// kept), and shutdown runs what is queued and joins everything; no job is ever dropped.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "serve/task_queue.h"

namespace mmfree::serve {
namespace {

using namespace std::chrono_literals;

// Polls `done` for up to 20 s (the pool's timing is not what these tests measure).
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

TEST(ElasticTaskQueue, RunsEveryJobWithinItsThreads) {
  ElasticTaskQueue q(3, 1, 50ms);
  std::atomic<int> running{0}, most{0}, finished{0};
  for (int i = 0; i < 20; ++i) {
    q.enqueue([&] {
      const int now = ++running;
      for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {
      }
      std::this_thread::sleep_for(5ms);
      --running;
      ++finished;
    });
  }
  ASSERT_TRUE(eventually([&] { return finished == 20; }));
  EXPECT_LE(most.load(), 3);
  EXPECT_LE(q.threads(), 3u);
}

TEST(ElasticTaskQueue, GrowsForABurstAndShrinksWhenIdle) {
  ElasticTaskQueue q(16, 2, 50ms);
  EXPECT_EQ(q.threads(), 0u);  // nothing is started before it is needed
  std::atomic<int> waiting{0};
  std::atomic<bool> release{false};
  for (int i = 0; i < 10; ++i) {
    q.enqueue([&] {
      ++waiting;
      while (!release) std::this_thread::sleep_for(1ms);
    });
  }
  // Ten jobs that block until released can only all be waiting on ten threads.
  ASSERT_TRUE(eventually([&] { return waiting == 10; }));
  EXPECT_EQ(q.threads(), 10u);
  release = true;
  EXPECT_TRUE(eventually([&] { return q.threads() == 2; }));
  // And it grows again.
  std::atomic<int> ran{0};
  for (int i = 0; i < 5; ++i) q.enqueue([&] { ++ran; });
  EXPECT_TRUE(eventually([&] { return ran == 5; }));
}

TEST(ElasticTaskQueue, ShutdownRunsWhatIsQueuedAndJoins) {
  std::atomic<int> ran{0};
  {
    ElasticTaskQueue q(2, 0, 10s);
    for (int i = 0; i < 50; ++i) q.enqueue([&] { ++ran; });
    q.shutdown();
    EXPECT_EQ(ran, 50);
    EXPECT_EQ(q.threads(), 0u);
    q.enqueue([&] { ++ran; });  // after shutdown: run by the caller, not lost
    EXPECT_EQ(ran, 51);
    q.shutdown();
  }
  EXPECT_EQ(ran, 51);
}

}  // namespace
}  // namespace mmfree::serve
