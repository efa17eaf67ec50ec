#pragma once
// One request as the scheduler sees it: its input (fixed once submitted) and the channel its
// results flow back through, choice by choice, to the HTTP thread that waits on it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "generate/generator.h"

namespace mmfree::serve {

// A generated token with its log-probability under the model (the logits before any sampling
// filter) and, when asked, the most likely alternatives at that position.
struct TokenLogprob {
  int64_t id = 0;
  float logprob = 0;
  std::vector<std::pair<int64_t, float>> top;
};

// What one step produced for one choice.
struct Event {
  int64_t choice = 0;
  std::string text;                  // may be empty (held back: a partial character or a stop string's start)
  bool has_token = false;
  TokenLogprob token;
  std::string finish_reason;         // set on a choice's last event: "stop", "length" or "cancelled"
  std::string error;                 // set when the server failed the request

  // A choice's last event when it ends without a token (cancelled, or failed).
  static Event end(int64_t choice, std::string reason, std::string error = "") {
    Event e;
    e.choice = choice;
    e.finish_reason = std::move(reason);
    e.error = std::move(error);
    return e;
  }
};

class Job {
 public:
  using clock = std::chrono::steady_clock;

  // Input, fixed before submit.
  GenerateRequest gen;    // prompt, max_tokens, sampler (seed of choice i: seed + i), stops, ignore_eos
  int64_t n = 1;          // choices
  int64_t logprobs = -1;  // -1: none; else alternatives per token
  clock::time_point submitted = clock::now();

  // Scheduler side.
  void push(Event e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!e.finish_reason.empty()) ++finished_;
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }

  // HTTP side: moves the events so far into `out` (waiting up to `timeout` for one); returns true
  // once every choice has finished and nothing is left to take.
  bool take(std::vector<Event>& out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !events_.empty(); });
    for (auto& e : events_) out.push_back(std::move(e));
    events_.clear();
    return finished_ >= n;
  }

  // The client went away (or the server is stopping): the scheduler frees its slots at its next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  int64_t finished_ = 0;
  std::atomic<bool> cancelled_{false};
};

}  // namespace mmfree::serve
