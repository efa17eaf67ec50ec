#include "eval/scorer.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace mmfree::eval {
namespace {

// log softmax(l)[target] in double, and whether target is the first argmax.
ContinuationScore add_position(const float* l, int64_t V, int64_t target, ContinuationScore s) {
  const float* top = std::max_element(l, l + V);
  const double mx = *top;
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(l[v]) - mx);
  s.logprob += static_cast<double>(l[target]) - mx - std::log(sum);
  s.greedy = s.greedy && (top - l) == target;
  return s;
}

}  // namespace

Scorer::Scorer(const Model& model, int64_t max_rows)
    : model_(model), max_rows_(max_rows), ws_(model, max_rows), one_(model, 1) {
  check(max_rows > 0, "evaluation batch: must hold at least one token");
}

void Scorer::advance(ScoreState& st, const std::vector<int64_t>& tokens) {
  if (tokens.empty()) return;
  // forward writes the last position's logits even when we do not need them.
  logits_.resize(static_cast<size_t>(model_.config().vocab_size));
  one_.write(0, st.h_.data());
  model_.forward(tokens.data(), 1, static_cast<int64_t>(tokens.size()), one_, ws_, logits_.data(), false);
  one_.read(0, st.h_.data());
}

std::vector<ContinuationScore> Scorer::score(const std::vector<ScoreState>& states,
                                             const std::vector<Continuation>& conts) {
  std::vector<ContinuationScore> out(conts.size());
  for (const Continuation& c : conts) {
    check(c.from < states.size(), "evaluation request: no state " + std::to_string(c.from));
    check(!c.targets.empty() && c.targets.size() <= c.input.size(),
          "evaluation request: a continuation needs 1 to len(input) targets");
    for (int64_t t : c.targets)
      check(t >= 0 && t < model_.config().vocab_size,
            "evaluation request: token " + std::to_string(t) + " is outside the model's vocabulary");
  }
  // Longest inputs first, then greedy batches: add rows while rows x longest input fits (sorted,
  // the rows of a batch have similar lengths and little padding). An input longer than max_rows
  // runs alone, in time chunks.
  std::vector<size_t> order(conts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return conts[x].input.size() > conts[y].input.size(); });
  for (size_t first = 0; first < order.size();) {
    const size_t longest = conts[order[first]].input.size();
    size_t n = 1;
    while (first + n < order.size() && static_cast<int64_t>((n + 1) * longest) <= max_rows_) ++n;
    score_batch(
        states, conts,
        {order.begin() + static_cast<std::ptrdiff_t>(first), order.begin() + static_cast<std::ptrdiff_t>(first + n)},
        out);
    first += n;
  }
  return out;
}

void Scorer::score_batch(const std::vector<ScoreState>& states, const std::vector<Continuation>& conts,
                         const std::vector<size_t>& rows, std::vector<ContinuationScore>& out) {
  const int64_t V = model_.config().vocab_size, B = static_cast<int64_t>(rows.size());
  int64_t T = 0;
  for (size_t r : rows) T = std::max<int64_t>(T, static_cast<int64_t>(conts[r].input.size()));
  // Each row starts from a copy of the state and is padded at its end with its own last token: the
  // recurrence is causal, so padding after a row's input changes none of the positions we read.
  StatePool st(model_, B);
  for (int64_t b = 0; b < B; ++b) st.write(b, states[conts[rows[static_cast<size_t>(b)]].from].h_.data());
  tokens_.assign(static_cast<size_t>(B * T), 0);
  for (int64_t b = 0; b < B; ++b) {
    const auto& in = conts[rows[static_cast<size_t>(b)]].input;
    std::copy(in.begin(), in.end(), tokens_.begin() + b * T);
    std::fill(tokens_.begin() + b * T + static_cast<int64_t>(in.size()), tokens_.begin() + (b + 1) * T, in.back());
  }
  for (int64_t b = 0; b < B; ++b) out[rows[static_cast<size_t>(b)]] = ContinuationScore{0, true};
  // Time chunks of W columns keep the logits at W x B x V floats however long the inputs are; the
  // state carries from one chunk to the next. Columns before every row's first scored position
  // (a context read whole, --from-scratch) need no logits: they run as chunks of their own without
  // the LM head on each position (only on the chunk's last one, which forward always writes).
  const int64_t W = std::max<int64_t>(1, max_rows_ / B);
  int64_t unscored = T;
  for (size_t r : rows)
    unscored = std::min(unscored, static_cast<int64_t>(conts[r].input.size() - conts[r].targets.size()));
  for (int64_t t0 = 0; t0 < T;) {
    const int64_t w = std::min({W, T - t0, t0 < unscored ? unscored - t0 : T});
    const bool scored = t0 >= unscored;
    chunk_.resize(static_cast<size_t>(B * w));
    for (int64_t b = 0; b < B; ++b) std::copy_n(tokens_.begin() + b * T + t0, w, chunk_.begin() + b * w);
    logits_.resize(static_cast<size_t>(B * (scored ? w : 1) * V));
    model_.forward(chunk_.data(), B, w, st, ws_, logits_.data(), scored);
    if (!scored) {
      t0 += w;
      continue;
    }
    for (int64_t b = 0; b < B; ++b) {
      const Continuation& c = conts[rows[static_cast<size_t>(b)]];
      ContinuationScore& s = out[rows[static_cast<size_t>(b)]];
      const int64_t start = static_cast<int64_t>(c.input.size() - c.targets.size());
      const int64_t end = static_cast<int64_t>(c.input.size());
      for (int64_t t = std::max(t0, start); t < std::min(t0 + w, end); ++t)
        s = add_position(logits_.data() + (b * w + t - t0) * V, V, c.targets[static_cast<size_t>(t - start)], s);
    }
    t0 += w;
  }
}

}  // namespace mmfree::eval
