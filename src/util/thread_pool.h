#pragma once
// A persistent pool of worker threads for the kernels: the threads are created once, and each
// parallel_for hands them a range of work without creating threads or allocating. The calling
// thread works too, so a pool of size N runs N-1 workers. Idle threads spin briefly (the gaps
// between the kernels of one decoded token are microseconds) and then sleep on a condition variable.
// Thread t (the caller is 0) takes chunk t of a job first and then whatever chunks are left, so
// the caller can tell a waiting worker what it will read first (read_ahead_while_idle).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>
#include <type_traits>
#include <vector>

namespace mmfree {

class ThreadPool {
 public:
  // threads >= 1 (0 means physical_core_count()).
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Memory a waiting worker reads ahead into its cache (L2): `bytes` from each of up to kMaxStreams
  // starts. Between two decode products the caller works alone on element-wise ops; meanwhile
  // each worker can pull in the first weights of its first chunk of the next product.
  static constexpr int kMaxStreams = 4, kMaxReadAheadWorkers = 64;
  struct ReadAhead {
    const uint8_t* start[kMaxStreams] = {};
    int streams = 0;
    int64_t bytes = 0;
  };
  // ranges[w - 1] for worker w, read until its next job arrives. Call after a job, from the thread
  // that calls parallel_for; a second call before the next job is ignored.
  void read_ahead_while_idle(std::span<const ReadAhead> ranges);

  // Calls fn(begin, end) on consecutive chunks of [0, count), each at most `grain` long, from all
  // threads at once; returns when every chunk is done. fn must not throw. Not re-entrant: fn must
  // not call parallel_for on the same pool.
  template <class F>
  void parallel_for(int64_t count, int64_t grain, F&& fn) {
    if (count <= 0) return;
    if (grain < 1) grain = 1;
    if (size() == 1 || count <= grain) {
      for (int64_t b = 0; b < count; b += grain) fn(b, b + grain < count ? b + grain : count);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run(count, grain, [](void* ctx, int64_t b, int64_t e) { (*static_cast<Fn*>(ctx))(b, e); }, const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using Call = void (*)(void* ctx, int64_t begin, int64_t end);
  void run(int64_t count, int64_t grain, Call call, void* ctx);
  void work_on_current_job(int64_t first);
  void worker_loop(int index);
  void read_ahead(const ReadAhead& r, uint32_t job);
  // Returns once a no longer holds old: spins, then sleeps until wake_sleepers().
  template <class T>
  void wait_for_change(const std::atomic<T>& a, T old);
  void wake_sleepers();

  std::vector<std::thread> workers_;
  // The current job; written by the caller before it bumps generation_ (release), read by the
  // workers after they see the new generation (acquire).
  Call call_ = nullptr;
  void* ctx_ = nullptr;
  int64_t count_ = 0, grain_ = 0;
  std::atomic<int64_t> next_{0};        // first index not yet claimed
  std::atomic<int> unfinished_{0};      // workers still inside the current job
  std::atomic<uint32_t> generation_{0};  // bumped once per job; workers wait on it
  std::atomic<bool> stop_{false};
  // Sleeping: sleepers_ is raised (seq_cst) before a sleeper re-checks its condition under mu_, and
  // read (seq_cst) after every change, so a waker either sees the sleeper or the sleeper sees the change.
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int> sleepers_{0};
  // Written by the caller between jobs, then read_ahead_epoch_ bumped (release); each worker reads
  // its entry once after it sees the bump (acquire), before the caller's next job.
  ReadAhead read_ahead_[kMaxReadAheadWorkers];
  std::atomic<uint32_t> read_ahead_epoch_{0};
  uint32_t read_ahead_job_ = 0;  // the job after which ranges were last announced (caller's thread)
};

// Number of physical cores this process may run on (hyper-threads counted once); at least 1.
int physical_core_count();

// Splits [0, n) into at most pool->size() contiguous parts (one for a null pool) of at least
// min_per_part items, fixed by n and the pool's size, runs fn(begin, end, part) on each and returns
// the number of parts: per-part partial sums reduced in part order depend on the thread count only.
template <class F>
int run_parts(ThreadPool* pool, int64_t n, int64_t min_per_part, F&& fn) {
  const int64_t by_size = n / (min_per_part > 1 ? min_per_part : 1);
  const int threads = pool ? pool->size() : 1;
  const int parts = static_cast<int>(by_size < 1 ? 1 : by_size > threads ? threads : by_size);
  if (parts == 1) {
    if (n > 0) fn(int64_t{0}, n, 0);
    return 1;
  }
  pool->parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) fn(n * p / parts, n * (p + 1) / parts, static_cast<int>(p));
  });
  return parts;
}

}  // namespace mmfree
