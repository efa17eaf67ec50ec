#include "serve/task_queue.h"

#include <malloc.h>

namespace mmfree::serve {

ElasticTaskQueue::ElasticTaskQueue(size_t max_threads, size_t keep, std::chrono::milliseconds idle)
    : max_threads_(std::max<size_t>(max_threads, 1)), keep_(std::min(keep, max_threads_)), idle_timeout_(idle) {}

ElasticTaskQueue::~ElasticTaskQueue() { shutdown(); }

void ElasticTaskQueue::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stop_) {  // no thread is left to run it, and a connection's job must still close its socket
    lock.unlock();
    fn();
    return;
  }
  jobs_.push_back(std::move(fn));
  if (idle_ < jobs_.size() && live_.size() < max_threads_) {
    std::thread t([this] { work(); });  // it waits for the lock, so its entry is in live_ first
    const std::thread::id id = t.get_id();
    live_.emplace(id, std::move(t));
  }
  cv_.notify_one();
}

void ElasticTaskQueue::shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  stop_ = true;
  cv_.notify_all();
  std::vector<std::thread> all = std::move(ended_);
  ended_.clear();
  for (auto& [id, t] : live_) all.push_back(std::move(t));
  live_.clear();
  lock.unlock();
  for (std::thread& t : all) t.join();
}

size_t ElasticTaskQueue::threads() {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

void ElasticTaskQueue::work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait_for(lock, idle_timeout_, [&] { return stop_ || !jobs_.empty(); });
    --idle_;
    if (!jobs_.empty()) {
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      fn = nullptr;  // what the job captured is freed on this thread, before the next wait
      lock.lock();
      continue;
    }
    if (stop_) return;  // shutdown() joins it
    if (live_.size() > keep_) {  // idle too long and not needed: end, to be joined by another
      const auto self = live_.find(std::this_thread::get_id());
      ended_.push_back(std::move(self->second));
      live_.erase(self);
      return;
    }
    reap(lock);
  }
}

void ElasticTaskQueue::reap(std::unique_lock<std::mutex>& lock) {
  if (ended_.empty()) return;
  std::vector<std::thread> done = std::move(ended_);
  ended_.clear();
  lock.unlock();
  for (std::thread& t : done) t.join();
  // Their caches of freed blocks went back to the allocator when they ended; give the whole free
  // pages back to the system.
  malloc_trim(0);
  lock.lock();
}

}  // namespace mmfree::serve
