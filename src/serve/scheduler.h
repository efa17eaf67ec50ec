#pragma once
// Continuous batching: one thread owns the model and runs it step after step. Each step decodes one
// token for every sequence that is generating (one batched forward over their state slots) and
// prefills the next chunk of the prompts that are still being read (a budget of rows, so a long
// prompt does not stall the others). New requests take free slots at the next step; a cancelled
// one gives its slots back at the next step. Each choice of a request is one sequence, with its own
// state slot, sampler and text stream (generate/continuation.h): rows of a batch never mix, so a
// greedy request gives the same tokens alone or in a batch of any size.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "model/model.h"
#include "serve/job.h"
#include "serve/metrics.h"
#include "tokenizer/tokenizer.h"

namespace mmfree::serve {

struct SchedulerOptions {
  int64_t parallel = 16;       // state slots: sequences generating at once
  int64_t max_queue = 64;      // sequences (choices) waiting for a slot; more are refused (503)
  int64_t prefill_chunk = 64;  // prompt rows per step, all prefilling sequences together
};

class Scheduler {
 public:
  // tok may be null (ids only, no stop strings). metrics may be null.
  Scheduler(const Model& model, const Tokenizer* tok, const SchedulerOptions& o, Metrics* metrics);
  ~Scheduler();  // cancels what runs and stops the thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class Admission { Queued, QueueFull, Stopping };
  // Queues a job (its n <= parallel, its prompt non-empty, its tokens inside the vocabulary).
  Admission submit(std::shared_ptr<Job> job);
  // Stops taking jobs; lets the running and queued ones finish for up to `grace`, then cancels
  // the rest (their choices end with finish_reason "cancelled"). Returns once all are done.
  void drain(std::chrono::milliseconds grace);

  const SchedulerOptions& options() const { return opt_; }

 private:
  struct Sequence;
  void loop();
  void step();
  void admit();
  void drop_cancelled();
  void decode();
  void prefill();
  // Samples from a sequence's logits row (or, logits null, from its most likely tokens: top), sends
  // the event, and retires it when it is done.
  void advance(Sequence& s, const float* logits, std::span<const TokenChoice> top = {});
  void retire_done();
  void fail_all(const std::string& message);

  const Model& model_;
  const Tokenizer* tok_;
  SchedulerOptions opt_;
  Metrics* metrics_;
  StatePool states_;
  Workspace ws_;
  std::vector<float> logits_;           // [max(parallel, prefill_chunk)][V]
  std::vector<int64_t> tokens_;         // staging for one forward
  std::vector<int32_t> slots_;
  std::vector<int32_t> free_slots_;
  std::vector<std::unique_ptr<Sequence>> running_;
  std::vector<Sequence*> batch_;        // the sequences of one forward
  std::vector<int32_t> order_;          // scratch of the logprob alternatives
  std::vector<ChoiceRow> how_;          // decode on a GPU: each sequence's choice, selected there
  std::vector<TokenChoice> choices_;    // [B][k]
  int64_t rows_ = 0;                    // rows run in the current step

  std::mutex mu_;                       // guards queue_, busy_ and the flags below
  std::condition_variable cv_;          // work arrived, or exit
  std::condition_variable idle_cv_;     // nothing queued or running
  int64_t busy_ = 0;                    // sequences running (running_.size(), readable under mu_)
  int64_t free_count_ = 0;              // free_slots_.size(), readable under mu_
  int64_t queued_choices_ = 0;          // choices of the jobs in queue_
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false, cancel_all_ = false, exit_ = false;
  std::thread thread_;
};

}  // namespace mmfree::serve
