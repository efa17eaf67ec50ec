#include "util/thread_pool.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace mmfree {
namespace {

// How long a thread polls before it sleeps: long enough to bridge the gap between two kernels of a
// decode step (tens of microseconds), short enough not to burn a shared core when the engine is
// idle. Between spinning and sleeping it yields a few times, which lets a descheduled thread of
// ours run when the cores are oversubscribed.
constexpr int kSpinIterations = 4096;
constexpr int kYieldIterations = 16;
// How long a worker that finished its part of a job polls for the caller's read-ahead
// announcement (which follows within about a microsecond when there is one).
constexpr int kReadAheadPolls = 256;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

}  // namespace

template <class T>
void ThreadPool::wait_for_change(const std::atomic<T>& a, T old) {
  for (int i = 0; i < kSpinIterations; ++i) {
    if (a.load(std::memory_order_acquire) != old) return;
    cpu_relax();
  }
  for (int i = 0; i < kYieldIterations; ++i) {
    if (a.load(std::memory_order_acquire) != old) return;
    std::this_thread::yield();
  }
  std::unique_lock<std::mutex> lock(mu_);
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  cv_.wait(lock, [&] { return a.load(std::memory_order_seq_cst) != old; });
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
}

void ThreadPool::wake_sleepers() {
  if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = physical_core_count();
  workers_.reserve(static_cast<size_t>(threads - 1));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  wake_sleepers();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work_on_current_job(int64_t first) {
  if (first < count_) call_(ctx_, first, std::min(first + grain_, count_));
  for (;;) {
    const int64_t begin = next_.fetch_add(grain_, std::memory_order_relaxed);
    if (begin >= count_) return;
    call_(ctx_, begin, std::min(begin + grain_, count_));
  }
}

void ThreadPool::run(int64_t count, int64_t grain, Call call, void* ctx) {
  call_ = call;
  ctx_ = ctx;
  count_ = count;
  grain_ = grain;
  // Chunk t is thread t's; the rest go to whoever asks first.
  next_.store(std::min(count, grain * size()), std::memory_order_relaxed);
  unfinished_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  wake_sleepers();
  work_on_current_job(0);
  for (int left = unfinished_.load(std::memory_order_acquire); left != 0;
       left = unfinished_.load(std::memory_order_acquire))
    wait_for_change(unfinished_, left);
}

void ThreadPool::read_ahead_while_idle(std::span<const ReadAhead> ranges) {
  // Once per job: a worker may still be copying the previous entries until it has taken a job.
  const uint32_t job = generation_.load(std::memory_order_relaxed);
  if (job == read_ahead_job_) return;
  read_ahead_job_ = job;
  const size_t n = std::min({ranges.size(), workers_.size(), static_cast<size_t>(kMaxReadAheadWorkers)});
  std::copy_n(ranges.begin(), n, read_ahead_);
  for (size_t i = n; i < workers_.size() && i < static_cast<size_t>(kMaxReadAheadWorkers); ++i) read_ahead_[i] = ReadAhead{};
  read_ahead_epoch_.fetch_add(1, std::memory_order_release);
}

// Reads r ahead a step at a time, and stops as soon as a job newer than `job` is published.
void ThreadPool::read_ahead(const ReadAhead& r, uint32_t job) {
  constexpr int64_t kStep = 4096, kLine = 64;
  for (int64_t off = 0; off < r.bytes; off += kStep) {
    if (generation_.load(std::memory_order_relaxed) != job) return;
    for (int s = 0; s < r.streams; ++s)
      for (int64_t b = off; b < std::min(off + kStep, r.bytes); b += kLine) __builtin_prefetch(r.start[s] + b, 0, 2);
  }
}

void ThreadPool::worker_loop(int index) {
  // The generation at construction, not the current one: a worker that starts late must still take
  // the jobs published before it ran.
  uint32_t seen = 0, read_ahead_seen = 0;
  for (;;) {
    wait_for_change(generation_, seen);
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_relaxed)) return;
    work_on_current_job(grain_ * index);
    read_ahead_seen = read_ahead_epoch_.load(std::memory_order_relaxed);
    if (unfinished_.fetch_sub(1, std::memory_order_seq_cst) == 1) wake_sleepers();
    // The caller announces what comes next right after this job: wait a moment for it.
    for (int i = 0; i < kReadAheadPolls && generation_.load(std::memory_order_relaxed) == seen; ++i) {
      if (read_ahead_epoch_.load(std::memory_order_acquire) != read_ahead_seen) {
        if (index <= kMaxReadAheadWorkers) {
          const ReadAhead r = read_ahead_[index - 1];
          read_ahead(r, seen);
        }
        break;
      }
      cpu_relax();
    }
  }
}

int physical_core_count() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    std::set<std::pair<std::string, std::string>> cores;  // (package, core) pairs
    bool topology_known = true;
    for (int cpu = 0; cpu < CPU_SETSIZE && topology_known; ++cpu) {
      if (!CPU_ISSET(cpu, &set)) continue;
      const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      std::ifstream pkg(dir + "physical_package_id"), core(dir + "core_id");
      std::string p, c;
      topology_known = static_cast<bool>(pkg >> p) && static_cast<bool>(core >> c);
      cores.emplace(p, c);
    }
    if (topology_known && !cores.empty()) return static_cast<int>(cores.size());
    const int allowed = CPU_COUNT(&set);
    if (allowed > 0) return allowed;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

}  // namespace mmfree
