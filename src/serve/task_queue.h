#pragma once
// The threads that serve cpp-httplib's connections. cpp-httplib's own pool starts all of its
// threads at once and keeps them for good; each keeps what it touched: its stack, and glibc's
// per-thread cache of freed blocks (up to about 230 KB a thread). With the --parallel +
// --max-queue + 16 threads a burst needs, that memory crept up with every round of requests
// (docs/BENCHMARKS.md, "Server"). Here a thread is started when a connection finds none idle, up
// to `max_threads`, and ends after `idle` without work, down to `keep`; once some have ended, a
// kept thread joins them and hands the freed memory back to the system (malloc_trim).
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace mmfree::serve {

class ElasticTaskQueue : public httplib::TaskQueue {
 public:
  ElasticTaskQueue(size_t max_threads, size_t keep, std::chrono::milliseconds idle);
  ~ElasticTaskQueue() override;

  // After shutdown() the job runs on the caller's thread.
  void enqueue(std::function<void()> fn) override;
  // Runs what is queued, then joins every thread. Idempotent.
  void shutdown() override;

  size_t threads();  // started and not yet ended

 private:
  void work();
  // Joins the threads that ended (outside the lock) and gives their memory back.
  void reap(std::unique_lock<std::mutex>& lock);

  const size_t max_threads_, keep_;
  const std::chrono::milliseconds idle_timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::map<std::thread::id, std::thread> live_;
  std::vector<std::thread> ended_;  // returned from work(), not joined yet
  size_t idle_ = 0;                 // threads waiting for a job
  bool stop_ = false;
};

}  // namespace mmfree::serve
