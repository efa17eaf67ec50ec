// eval::evaluate's sharing of a task's batches among several scorers (model copies, one thread
// each): every item's log-likelihoods and greedy flags must be exactly those of one scorer, for a
// multiple-choice task and a rolling one (several windows summed per page).
#include <gtest/gtest.h>

#include "eval/evaluate.h"
#include "test_util.h"
#include "util/error.h"

namespace mmfree {
namespace {

DeviceOptions cpu_one_thread() {
  DeviceOptions d;
  d.threads = 1;
  return d;
}

void expect_same_with_more_scorers(const std::string& task_name, int64_t limit) {
  const auto task = eval::load_task(task_name, test::shared_dir() + "/data/eval", limit);
  const auto tok = load_tokenizer(test::default_model());
  eval::EvalOptions o;
  o.items_per_batch = 2;  // many batches, so that each scorer gets several
  o.max_length = 64;      // WikiText: several windows per page
  std::vector<std::unique_ptr<Model>> models;
  std::vector<std::unique_ptr<eval::Scorer>> scorers;
  std::vector<eval::Scorer*> all;
  for (int k = 0; k < 3; ++k) {
    models.push_back(Model::load(test::default_model(), cpu_one_thread()));
    scorers.push_back(std::make_unique<eval::Scorer>(*models.back(), 64));
    all.push_back(scorers.back().get());
  }
  const auto one = eval::evaluate(task, *tok, std::span(all).first(1), o);
  const auto three = eval::evaluate(task, *tok, all, o);
  ASSERT_EQ(one.items.size(), three.items.size());
  for (size_t i = 0; i < one.items.size(); ++i) {
    EXPECT_EQ(one.items[i].lls, three.items[i].lls) << task_name << " item " << i;  // exactly: same reads
    EXPECT_EQ(one.items[i].greedy, three.items[i].greedy) << task_name << " item " << i;
  }
  EXPECT_EQ(one.tokens_read, three.tokens_read);
  ASSERT_EQ(one.metrics.size(), three.metrics.size());
  for (size_t m = 0; m < one.metrics.size(); ++m) EXPECT_EQ(one.metrics[m].value, three.metrics[m].value);
}

TEST(EvalEvaluate, ThreeScorersGiveExactlyTheNumbersOfOne) {
  expect_same_with_more_scorers("hellaswag", 12);
  expect_same_with_more_scorers("wikitext", 2);
}

TEST(EvalEvaluate, AFailingBatchStopsEveryScorerWithItsError) {
  const auto task = eval::load_task("arc_easy", test::shared_dir() + "/data/eval", 8);
  const auto tok = load_tokenizer(test::default_model());
  eval::EvalOptions o;
  o.items_per_batch = 1;
  o.max_length = 1;  // every choice's continuation is longer than the window: an error in each batch
  const auto model = Model::load(test::default_model(), cpu_one_thread());
  eval::Scorer a(*model, 64), b(*model, 64);
  std::vector<eval::Scorer*> both = {&a, &b};
  EXPECT_THROW(eval::evaluate(task, *tok, both, o), Error);
}

}  // namespace
}  // namespace mmfree
