#pragma once
// How well a model predicts a token sequence: the summed next-token NLL over the sequence, run in
// windows of ctx tokens. With carry_state (the default of `mmfree perplexity`) the recurrent state
// flows from one window to the next, so the result is that of the whole sequence in one pass and
// ctx only bounds memory; without it every window starts from a zero state (the fixed-context
// figure that transformer evaluations report). Either way every token after the first is
// predicted exactly once.
#include <cstdint>
#include <vector>

#include "model/model.h"

namespace mmfree {

struct SequenceNll {
  int64_t tokens = 0;  // predicted tokens
  double nll = 0;      // their summed negative log-likelihood, in nats
};

SequenceNll sequence_nll(const Model& model, const std::vector<int64_t>& ids, int64_t ctx, bool carry_state);

}  // namespace mmfree
