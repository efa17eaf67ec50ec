#include "eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "eval/metrics.h"
#include "eval/requests.h"
#include "util/error.h"

namespace mmfree::eval {
namespace {

// What the model reads for item i: groups of requests that each share one state. A
// multiple-choice item is one group (its choices, forked from its context); a page is one group per
// rolling window (each read from a fresh state), and its log-likelihood is the sum over them.
struct ItemReads {
  std::vector<std::vector<TokenRequest>> groups;
  bool summed = false;  // one result, the sum of every request's log-likelihood
};

ItemReads item_reads(const Task& task, size_t i, const Tokenizer& tok, const EvalOptions& o) {
  ItemReads r;
  if (task.kind == TaskKind::Rolling) {
    check(tok.bos_id() >= 0, "wikitext: the rolling windows start with BOS, and " + tok.name() + " has none");
    EncodeOptions eo;
    eo.add_eos = false;
    const auto ids = tok.encode(task.pages[i].text, eo);
    for (auto& w : rolling_windows({ids.begin(), ids.end()}, tok.bos_id(), o.max_length))
      r.groups.push_back({std::move(w)});
    r.summed = true;
    return r;
  }
  r.groups.emplace_back();
  for (const auto& q : task.docs[i].requests) r.groups[0].push_back(encode_pair(tok, q));
  return r;
}

std::vector<Metric> task_metrics(const Task& task, const std::vector<ItemScores>& items) {
  const double none = std::numeric_limits<double>::quiet_NaN();
  if (task.kind == TaskKind::Rolling) {
    RollingTotals t;
    for (size_t i = 0; i < items.size(); ++i) {
      for (double ll : items[i].lls) t.loglikelihood += ll;
      t.words += task.pages[i].words;
      t.bytes += task.pages[i].bytes;
    }
    return {{"word_perplexity", word_perplexity(t), none},
            {"byte_perplexity", byte_perplexity(t), none},
            {"bits_per_byte", bits_per_byte(t), none}};
  }
  if (task.kind == TaskKind::Lambada) {
    std::vector<double> lls, acc;
    for (const auto& it : items) {
      lls.push_back(it.lls[0]);
      acc.push_back(it.greedy[0] ? 1.0 : 0.0);
    }
    // The harness bootstraps perplexity's stderr with 100000 resamples (bootstrap_iters default).
    return {{"perplexity", perplexity(lls), perplexity_bootstrap_stderr(lls, 100000)},
            {"acc", mean(acc), mean_stderr(acc)}};
  }
  std::vector<double> acc, norm;
  for (size_t i = 0; i < items.size(); ++i) {
    const ChoiceDoc& d = task.docs[i];
    acc.push_back(choice_correct(items[i].lls, d.gold));
    if (task.normalized) norm.push_back(choice_correct_norm(items[i].lls, d.choices, d.gold));
  }
  std::vector<Metric> m = {{"acc", mean(acc), mean_stderr(acc)}};
  if (task.normalized) m.push_back({"acc_norm", mean(norm), mean_stderr(norm)});
  return m;
}

// A batch of items as the model reads it: each group's prefix (read once into its own state), the
// continuations (each from its group's state), and the (item, result) each continuation adds to.
struct BatchPlan {
  std::vector<std::vector<int64_t>> prefixes;
  std::vector<Continuation> conts;
  std::vector<std::pair<size_t, size_t>> owner;
};

BatchPlan plan_batch(const Task& task, const Tokenizer& tok, const EvalOptions& o, size_t first, size_t n,
                     std::vector<ItemScores>& items) {
  BatchPlan b;
  for (size_t i = first; i < first + n; ++i) {
    const ItemReads reads = item_reads(task, i, tok, o);
    const size_t results = reads.summed ? 1 : reads.groups[0].size();
    items[i].lls.assign(results, 0.0);
    items[i].greedy.assign(results, true);
    for (const auto& group : reads.groups) {
      ItemPlan plan = plan_item(group, o.max_length, o.share_context);
      b.prefixes.push_back(std::move(plan.prefix));
      for (size_t k = 0; k < plan.continuations.size(); ++k) {
        // From scratch, each request reads from a zero state of its own: nothing is shared.
        if (!o.share_context && k > 0) b.prefixes.emplace_back();
        plan.continuations[k].from = b.prefixes.size() - 1;
        b.owner.emplace_back(i, reads.summed ? 0 : k);
        b.conts.push_back(std::move(plan.continuations[k]));
      }
    }
  }
  return b;
}

std::vector<ContinuationScore> run_batch(Scorer& scorer, const BatchPlan& b) {
  std::vector<ScoreState> states;
  states.reserve(b.prefixes.size());
  for (const auto& p : b.prefixes) {
    states.push_back(scorer.zero_state());
    scorer.advance(states.back(), p);
  }
  return scorer.score(states, b.conts);
}

}  // namespace

TaskResult evaluate(const Task& task, const Tokenizer& tok, std::span<Scorer* const> scorers, const EvalOptions& o,
                    const Progress& progress) {
  check(o.items_per_batch > 0, "items per batch: must be positive");
  check(!scorers.empty(), "evaluation: no model to score with");
  const auto t0 = std::chrono::steady_clock::now();
  TaskResult r;
  r.task = task.name;
  r.items.resize(task.size());
  const size_t per_batch = task.kind == TaskKind::Rolling ? 1 : static_cast<size_t>(o.items_per_batch);
  // Each scorer takes the next batch of items, reads it, and adds its scores to its own items:
  // batches share no item and each item's sums run in one order, so the numbers do not depend on
  // how many scorers there are or which one read a batch. Tokenizing and merging hold the lock.
  std::mutex mu;
  size_t next = 0, done = 0;
  std::exception_ptr failed;
  const auto work = [&](Scorer& scorer) {
    try {
      for (;;) {
        size_t first = 0, n = 0;
        BatchPlan b;
        {
          const std::lock_guard lock(mu);
          if (failed || next >= task.size()) return;
          first = next;
          n = std::min(per_batch, task.size() - first);
          next += n;
          b = plan_batch(task, tok, o, first, n, r.items);
        }
        const int64_t read_before = scorer.tokens_read();
        const auto scores = run_batch(scorer, b);
        const std::lock_guard lock(mu);
        r.tokens_read += scorer.tokens_read() - read_before;
        for (size_t c = 0; c < scores.size(); ++c) {
          ItemScores& it = r.items[b.owner[c].first];
          it.lls[b.owner[c].second] += scores[c].logprob;
          it.greedy[b.owner[c].second] = it.greedy[b.owner[c].second] && scores[c].greedy;
        }
        done += n;
        if (progress) progress(done, task.size());
      }
    } catch (...) {
      const std::lock_guard lock(mu);
      if (!failed) failed = std::current_exception();
    }
  };
  {
    std::vector<std::jthread> others;
    for (size_t k = 1; k < scorers.size(); ++k) others.emplace_back(work, std::ref(*scorers[k]));
    work(*scorers[0]);
  }
  if (failed) std::rethrow_exception(failed);
  r.metrics = task_metrics(task, r.items);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace mmfree::eval
