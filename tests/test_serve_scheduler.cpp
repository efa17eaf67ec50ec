// The server's scheduler (src/serve/scheduler.cpp): a greedy request gives the golden tokens of
// the original implementation (../shared/fixtures/tiny_a) alone and inside batches of other
// requests at other positions, whatever the prefill chunking; a seeded sampled request repeats
// itself in any company; slots are freed by cancellation and the queue limit holds.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "format/safetensors.h"
#include "model/model.h"
#include "serve/scheduler.h"
#include "test_util.h"

namespace mmfree::serve {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<Job> job(std::vector<int64_t> prompt, int64_t max_tokens, float temperature, uint64_t seed = 0,
                         int64_t n = 1) {
  auto j = std::make_shared<Job>();
  j->gen.prompt = std::move(prompt);
  j->gen.max_tokens = max_tokens;
  j->gen.sampler.temperature = temperature;
  j->gen.sampler.seed = seed;
  j->gen.ignore_eos = true;
  j->n = n;
  return j;
}

// Every token of every choice, once the job has finished (within a minute).
std::vector<std::vector<int64_t>> collect(Job& j) {
  std::vector<std::vector<int64_t>> ids(static_cast<size_t>(j.n));
  std::vector<Event> events;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  bool finished = false;
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    finished = j.take(events, 100ms);
    for (const Event& e : events) {
      EXPECT_TRUE(e.error.empty()) << e.error;
      if (e.has_token) ids[static_cast<size_t>(e.choice)].push_back(e.token.id);
    }
    events.clear();
  }
  EXPECT_TRUE(finished) << "the job did not finish within a minute";
  return ids;
}

class ServeScheduler : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = Model::load(test::tiny_a(), DeviceOptions{.device = "cpu", .threads = 2, .isa = ""});
    const SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
    prompt_ = golden.get("prompt_ids").to_i64();
    want_ = golden.get("greedy_ids").to_i64();
  }
  std::unique_ptr<Model> model_;
  std::vector<int64_t> prompt_, want_;
};

TEST_F(ServeScheduler, GreedyGivesTheGoldenTokensAloneAndInAnyBatch) {
  const auto steps = static_cast<int64_t>(want_.size());
  for (int64_t chunk : {1, 3, 64}) {
    Scheduler s(*model_, nullptr, SchedulerOptions{.parallel = 8, .max_queue = 16, .prefill_chunk = chunk}, nullptr);
    auto alone = job(prompt_, steps, 0);
    ASSERT_EQ(s.submit(alone), Scheduler::Admission::Queued);
    EXPECT_EQ(collect(*alone)[0], want_) << "alone, prefill chunk " << chunk;

    // The same request among others: longer and shorter prompts, sampled ones, two choices, all
    // submitted together so that prefill and decode rows share steps.
    std::vector<std::shared_ptr<Job>> others = {job({1, 5, 9}, steps + 7, 0.9f, 11), job(std::vector<int64_t>(40, 7), 5, 0),
                                                job({2}, steps, 1.0f, 3, 2), job({1, 17, 33, 4, 5, 6, 7, 8, 9}, 2 * steps, 0)};
    auto mine = job(prompt_, steps, 0);
    ASSERT_EQ(s.submit(others[0]), Scheduler::Admission::Queued);
    ASSERT_EQ(s.submit(others[1]), Scheduler::Admission::Queued);
    ASSERT_EQ(s.submit(mine), Scheduler::Admission::Queued);
    ASSERT_EQ(s.submit(others[2]), Scheduler::Admission::Queued);
    ASSERT_EQ(s.submit(others[3]), Scheduler::Admission::Queued);
    EXPECT_EQ(collect(*mine)[0], want_) << "in a batch, prefill chunk " << chunk;
    for (auto& o : others) collect(*o);
  }
}

TEST_F(ServeScheduler, SeededSamplingRepeatsInAnyCompany) {
  const SchedulerOptions o{.parallel = 6, .max_queue = 16, .prefill_chunk = 4};
  std::vector<std::vector<int64_t>> first;
  {
    Scheduler s(*model_, nullptr, o, nullptr);
    auto j = job(prompt_, 20, 1.0f, 1234, 2);
    ASSERT_EQ(s.submit(j), Scheduler::Admission::Queued);
    first = collect(*j);
  }
  EXPECT_NE(first[0], first[1]) << "choices get different seeds";
  Scheduler s(*model_, nullptr, o, nullptr);
  auto noise = job(std::vector<int64_t>(25, 3), 30, 0.7f, 99, 3);
  auto j = job(prompt_, 20, 1.0f, 1234, 2);
  ASSERT_EQ(s.submit(noise), Scheduler::Admission::Queued);
  ASSERT_EQ(s.submit(j), Scheduler::Admission::Queued);
  EXPECT_EQ(collect(*j), first);
  collect(*noise);
}

TEST_F(ServeScheduler, CancelFreesTheSlotAndTheQueueIsBounded) {
  Scheduler s(*model_, nullptr, SchedulerOptions{.parallel = 1, .max_queue = 1, .prefill_chunk = 8}, nullptr);
  auto a = job(prompt_, 1 << 20, 0);  // would run for minutes
  auto b = job(prompt_, static_cast<int64_t>(want_.size()), 0);
  auto c = job(prompt_, 4, 0);
  ASSERT_EQ(s.submit(a), Scheduler::Admission::Queued);
  std::vector<Event> events;
  while (events.empty()) a->take(events, 100ms);  // a holds the only slot
  ASSERT_EQ(s.submit(b), Scheduler::Admission::Queued);  // waits
  EXPECT_EQ(s.submit(c), Scheduler::Admission::QueueFull);
  a->cancel();
  EXPECT_EQ(collect(*b)[0], want_);  // b ran in the slot a gave back
  bool cancelled = false;
  for (bool done = false; !done;) {
    done = a->take(events, 100ms);
    for (const Event& e : events) cancelled |= e.finish_reason == "cancelled";
    events.clear();
  }
  EXPECT_TRUE(cancelled);
}

TEST_F(ServeScheduler, DrainCancelsWhatOutlivesTheGrace) {
  Scheduler s(*model_, nullptr, SchedulerOptions{.parallel = 2, .max_queue = 4, .prefill_chunk = 8}, nullptr);
  auto short_job = job(prompt_, 3, 0), long_job = job(prompt_, 1 << 20, 0);
  ASSERT_EQ(s.submit(short_job), Scheduler::Admission::Queued);
  ASSERT_EQ(s.submit(long_job), Scheduler::Admission::Queued);
  s.drain(300ms);
  EXPECT_EQ(s.submit(job(prompt_, 3, 0)), Scheduler::Admission::Stopping);
  EXPECT_EQ(collect(*short_job)[0].size(), 3u);
  std::vector<Event> events;
  EXPECT_TRUE(long_job->take(events, 0ms));
  EXPECT_EQ(events.back().finish_reason, "cancelled");
}

}  // namespace
}  // namespace mmfree::serve
