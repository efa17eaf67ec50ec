#include "eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <limits>

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

}  // namespace

TaskResult evaluate(const Task& task, const Tokenizer& tok, Scorer& scorer, const EvalOptions& o,
                    const Progress& progress) {
  check(o.items_per_batch > 0, "items per batch: must be positive");
  const auto t0 = std::chrono::steady_clock::now();
  TaskResult r;
  r.task = task.name;
  r.items.resize(task.size());
  const size_t per_batch = task.kind == TaskKind::Rolling ? 1 : static_cast<size_t>(o.items_per_batch);
  for (size_t first = 0; first < task.size(); first += per_batch) {
    const size_t n = std::min(per_batch, task.size() - first);
    // Every group of the batch's items gets its state (its shared prefix read once), then every
    // continuation of the batch is scored side by side.
    std::vector<ScoreState> states;
    std::vector<Continuation> conts;
    std::vector<std::pair<size_t, size_t>> owner;  // (item, result) of each continuation
    for (size_t i = first; i < first + n; ++i) {
      const ItemReads reads = item_reads(task, i, tok, o);
      const size_t results = reads.summed ? 1 : reads.groups[0].size();
      r.items[i].lls.assign(results, 0.0);
      r.items[i].greedy.assign(results, true);
      for (const auto& group : reads.groups) {
        ItemPlan plan = plan_item(group, o.max_length, o.share_context);
        states.push_back(scorer.zero_state());
        scorer.advance(states.back(), plan.prefix);
        r.tokens_read += static_cast<int64_t>(plan.prefix.size());
        for (size_t k = 0; k < plan.continuations.size(); ++k) {
          plan.continuations[k].from = states.size() - 1;
          r.tokens_read += static_cast<int64_t>(plan.continuations[k].input.size());
          owner.emplace_back(i, reads.summed ? 0 : k);
          conts.push_back(std::move(plan.continuations[k]));
        }
      }
    }
    const auto scores = scorer.score(states, conts);
    for (size_t c = 0; c < scores.size(); ++c) {
      ItemScores& it = r.items[owner[c].first];
      it.lls[owner[c].second] += scores[c].logprob;
      it.greedy[owner[c].second] = it.greedy[owner[c].second] && scores[c].greedy;
    }
    if (progress) progress(first + n, task.size());
  }
  r.metrics = task_metrics(task, r.items);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace mmfree::eval
