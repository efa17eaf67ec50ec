#include "eval/scorer.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "util/error.h"

namespace mmfree::eval {
namespace {

// What a position's logits give every target scored there: log softmax(l)[t] = l[t] - max - log
// sum exp(l - max), in double, and the first argmax.
struct PositionStats {
  double max = 0, log_sum = 0;
  int64_t top = 0;
};

PositionStats position_stats(const float* l, int64_t V) {
  const float* top = std::max_element(l, l + V);
  const double mx = *top;
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(l[v]) - mx);
  return {mx, std::log(sum), top - l};
}

void add_target(const float* l, const PositionStats& p, int64_t target, ContinuationScore& s) {
  s.logprob += static_cast<double>(l[target]) - p.max - p.log_sum;
  s.greedy = s.greedy && p.top == target;
}

}  // namespace

// A run of tokens that some continuations read alike, from one state (a given one, or the end of
// an earlier piece): a path of the prefix tree with no fork inside it.
struct Scorer::Piece {
  size_t from = 0;                                          // index into the states
  std::vector<int64_t> tokens;
  std::vector<std::vector<std::pair<size_t, int64_t>>> at;  // per token: (continuation, target) scored there
  int64_t first_scored = 0;                                 // first token with a target (size when none)
  int64_t end_state = -1;                                   // index of the state after it, when pieces follow
};

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
  tokens_read_ += static_cast<int64_t>(tokens.size());
}

std::vector<ContinuationScore> Scorer::score(const std::vector<ScoreState>& given,
                                             const std::vector<Continuation>& conts) {
  for (const Continuation& c : conts) {
    check(c.from < given.size(), "evaluation request: no state " + std::to_string(c.from));
    check(!c.targets.empty() && c.targets.size() <= c.input.size(),
          "evaluation request: a continuation needs 1 to len(input) targets");
    for (int64_t t : c.targets)
      check(t >= 0 && t < model_.config().vocab_size,
            "evaluation request: token " + std::to_string(t) + " is outside the model's vocabulary");
  }
  // The prefix tree: a root per state, a node per distinct (parent, token).
  struct Node {
    int64_t token = -1;
    std::map<int64_t, size_t> children;
    std::vector<std::pair<size_t, int64_t>> at;
  };
  std::vector<Node> nodes(given.size());
  for (size_t ci = 0; ci < conts.size(); ++ci) {
    const Continuation& c = conts[ci];
    const size_t start = c.input.size() - c.targets.size();
    size_t n = c.from;
    for (size_t p = 0; p < c.input.size(); ++p) {
      const auto found = nodes[n].children.find(c.input[p]);
      if (found != nodes[n].children.end()) {
        n = found->second;
      } else {
        nodes[n].children.emplace(c.input[p], nodes.size());
        n = nodes.size();
        nodes.push_back({c.input[p], {}, {}});
      }
      if (p >= start) nodes[n].at.emplace_back(ci, c.targets[p - start]);
    }
  }
  // Pieces wave by wave: a wave's pieces start where the previous wave's pieces forked.
  std::vector<ScoreState> states = given;
  std::vector<ContinuationScore> out(conts.size(), ContinuationScore{0, true});
  std::vector<std::pair<size_t, size_t>> starts;  // (state, first node) of the next wave's pieces
  for (size_t root = 0; root < given.size(); ++root)
    for (const auto& [token, child] : nodes[root].children) starts.emplace_back(root, child);
  while (!starts.empty()) {
    std::vector<Piece> wave;
    std::vector<std::pair<size_t, size_t>> next;
    for (const auto& [state, first] : starts) {
      Piece piece;
      piece.from = state;
      size_t n = first;
      for (;;) {
        piece.tokens.push_back(nodes[n].token);
        piece.at.push_back(std::move(nodes[n].at));
        if (nodes[n].children.size() != 1) break;
        n = nodes[n].children.begin()->second;
      }
      piece.first_scored = static_cast<int64_t>(piece.tokens.size());
      for (size_t t = 0; t < piece.at.size(); ++t)
        if (!piece.at[t].empty()) {
          piece.first_scored = static_cast<int64_t>(t);
          break;
        }
      if (!nodes[n].children.empty()) {
        piece.end_state = static_cast<int64_t>(states.size());
        states.push_back(zero_state());
        for (const auto& [token, child] : nodes[n].children) next.emplace_back(states.size() - 1, child);
      }
      wave.push_back(std::move(piece));
    }
    // Longest first, then greedy batches: add rows while rows x longest fits (sorted, the rows of a
    // batch have similar lengths and little padding). A piece longer than max_rows runs alone, in
    // time chunks.
    std::vector<size_t> order(wave.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return wave[x].tokens.size() > wave[y].tokens.size(); });
    for (size_t first = 0; first < order.size();) {
      const size_t longest = wave[order[first]].tokens.size();
      size_t n = 1;
      while (first + n < order.size() && static_cast<int64_t>((n + 1) * longest) <= max_rows_) ++n;
      run_batch(states, wave,
                {order.begin() + static_cast<std::ptrdiff_t>(first), order.begin() + static_cast<std::ptrdiff_t>(first + n)},
                out);
      first += n;
    }
    starts = std::move(next);
  }
  return out;
}

void Scorer::run_batch(std::vector<ScoreState>& states, const std::vector<Piece>& pieces,
                       const std::vector<size_t>& rows, std::vector<ContinuationScore>& out) {
  const int64_t V = model_.config().vocab_size, B = static_cast<int64_t>(rows.size());
  const auto piece = [&](int64_t b) -> const Piece& { return pieces[rows[static_cast<size_t>(b)]]; };
  int64_t T = 0;
  for (int64_t b = 0; b < B; ++b) T = std::max<int64_t>(T, static_cast<int64_t>(piece(b).tokens.size()));
  // Each row starts from a copy of its state and is padded at its end with its own last token: the
  // recurrence is causal, so padding after a row's tokens changes none of the positions we read,
  // and a row whose end state is wanted has it read before its padding.
  StatePool st(model_, B);
  for (int64_t b = 0; b < B; ++b) st.write(b, states[piece(b).from].h_.data());
  tokens_.assign(static_cast<size_t>(B * T), 0);
  int64_t unscored = T;
  for (int64_t b = 0; b < B; ++b) {
    const auto& in = piece(b).tokens;
    std::copy(in.begin(), in.end(), tokens_.begin() + b * T);
    std::fill(tokens_.begin() + b * T + static_cast<int64_t>(in.size()), tokens_.begin() + (b + 1) * T, in.back());
    unscored = std::min(unscored, piece(b).first_scored);
    tokens_read_ += static_cast<int64_t>(in.size());
  }
  // Time chunks of W columns keep the logits at W x B x V floats however long the inputs are; the
  // state carries from one chunk to the next, so a chunk may end anywhere: also where a row ends
  // whose state is wanted, and before every row's first scored position (a context read whole,
  // --from-scratch): those columns need no logits and run without the LM head on each position
  // (only on the chunk's last one, which forward always writes).
  const int64_t W = std::max<int64_t>(1, max_rows_ / B);
  for (int64_t t0 = 0; t0 < T;) {
    int64_t t1 = std::min(t0 + W, T);
    if (t0 < unscored) t1 = std::min(t1, unscored);
    for (int64_t b = 0; b < B; ++b) {
      const auto len = static_cast<int64_t>(piece(b).tokens.size());
      if (piece(b).end_state >= 0 && len > t0) t1 = std::min(t1, len);
    }
    const int64_t w = t1 - t0;
    const bool scored = t0 >= unscored;
    chunk_.resize(static_cast<size_t>(B * w));
    for (int64_t b = 0; b < B; ++b) std::copy_n(tokens_.begin() + b * T + t0, w, chunk_.begin() + b * w);
    logits_.resize(static_cast<size_t>(B * (scored ? w : 1) * V));
    model_.forward(chunk_.data(), B, w, st, ws_, logits_.data(), scored);
    for (int64_t b = 0; b < B; ++b) {
      const Piece& p = piece(b);
      const auto len = static_cast<int64_t>(p.tokens.size());
      if (p.end_state >= 0 && len == t1) st.read(b, states[static_cast<size_t>(p.end_state)].h_.data());
      if (!scored) continue;
      for (int64_t t = t0; t < std::min(t1, len); ++t) {
        const auto& at = p.at[static_cast<size_t>(t)];
        if (at.empty()) continue;
        const float* l = logits_.data() + (b * w + t - t0) * V;
        const PositionStats ps = position_stats(l, V);
        for (const auto& [c, target] : at) add_target(l, ps, target, out[c]);
      }
    }
    t0 = t1;
  }
}

}  // namespace mmfree::eval
