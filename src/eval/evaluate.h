#pragma once
// Runs one task through the model and computes the harness's metrics for it.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "eval/scorer.h"
#include "eval/tasks.h"
#include "tokenizer/tokenizer.h"

namespace mmfree::eval {

struct EvalOptions {
  // The harness's max_length: HFLM reads max_position_embeddings from the model config, 2048 in
  // every hgrn_bit config (and HFLM's own default).
  int64_t max_length = 2048;
  // Read each item's shared prefix (its context) once and fork the state for each choice; false
  // reads every request whole from a zero state, as a transformer evaluation does.
  bool share_context = true;
  // Items whose continuations run side by side: 64 pads less than 16 (continuations of similar
  // length find each other; HellaSwag: 8% less CPU time, docs/EVAL.md).
  int64_t items_per_batch = 64;
};

struct Metric {
  std::string name;
  double value = 0;
  double stderr_ = 0;  // NaN where the harness reports none
};

// Per item: the log-likelihood of each request (choice, or the sum over a page's windows) and
// whether it was the greedy continuation.
struct ItemScores {
  std::vector<double> lls;
  std::vector<bool> greedy;
};

struct TaskResult {
  std::string task;
  std::vector<Metric> metrics;
  std::vector<ItemScores> items;
  int64_t tokens_read = 0;  // tokens the model read (shared prefixes and pieces of continuations once)
  double seconds = 0;
};

// Called after each batch of items with (items done, items in all).
using Progress = std::function<void(size_t done, size_t total)>;

// Several scorers (each on its own copy of the model) share the task's batches of items out, one
// thread each; the numbers are the same for any number of them.
TaskResult evaluate(const Task& task, const Tokenizer& tok, std::span<Scorer* const> scorers, const EvalOptions& o,
                    const Progress& progress = {});

}  // namespace mmfree::eval
