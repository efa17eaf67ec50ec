#pragma once
// The one place where evaluation calls the model: advance a recurrent state over tokens, copy a
// state, and score continuations from a state. Everything else in src/eval/ works on token ids and
// log-likelihoods only, so a change of the model's API touches this file alone.
#include <cstdint>
#include <memory>
#include <vector>

#include "model/model.h"

namespace mmfree::eval {

// A point in a token sequence: the recurrent state after the tokens read so far (zero at the start).
class ScoreState {
 public:
  explicit ScoreState(const ModelConfig& c) : h_(static_cast<size_t>(c.num_layers * c.hidden_size), 0.0f) {}

 private:
  friend class Scorer;
  std::vector<float> h_;  // [L][d], on the host: a question's states outnumber the device's slots
};

// One continuation to score from states[from]: `input` is fed from that state, and its last
// targets.size() positions predict `targets` (target k is predicted after reading
// input[input.size() - targets.size() + k]). The harness's convention: the input is
// (context + continuation)[:-1], and the logits of its last len(continuation) positions count.
struct Continuation {
  size_t from = 0;
  std::vector<int64_t> input;
  std::vector<int64_t> targets;
};

struct ContinuationScore {
  double logprob = 0;   // sum over the targets of log softmax(logits)[target], in nats
  bool greedy = false;  // every target is the argmax of its position's logits (first index on ties)
};

class Scorer {
 public:
  // max_rows bounds the tokens of one batched forward (and so the memory of its logits).
  Scorer(const Model& model, int64_t max_rows);

  ScoreState zero_state() const { return ScoreState(model_.config()); }
  // Reads tokens into st (no logits kept).
  void advance(ScoreState& st, const std::vector<int64_t>& tokens);
  // Scores every continuation (the states are left as they are). Continuations from the same
  // state that begin with the same tokens read those tokens once (a prefix tree of the inputs,
  // forked where they part; a position's logits score every continuation that reaches it), and
  // the pieces of many continuations run side by side, as many per forward call as max_rows
  // allows. The numbers are those of each continuation read alone from its state.
  std::vector<ContinuationScore> score(const std::vector<ScoreState>& states, const std::vector<Continuation>& conts);

  // Tokens the model has read through this scorer (advance and score), for the cost figures.
  int64_t tokens_read() const { return tokens_read_; }

 private:
  struct Piece;
  // Runs pieces side by side, padded to the longest: scores their positions into out and keeps
  // the state at the end of each piece that others continue from.
  void run_batch(std::vector<ScoreState>& states, const std::vector<Piece>& pieces, const std::vector<size_t>& rows,
                 std::vector<ContinuationScore>& out);

  const Model& model_;
  int64_t max_rows_;
  int64_t tokens_read_ = 0;
  Workspace ws_;
  StatePool one_;  // advance() runs here
  std::vector<float> logits_;
  std::vector<int64_t> tokens_, chunk_;  // a batch's inputs [B][T] and one time chunk of them [B][W]
};

}  // namespace mmfree::eval
