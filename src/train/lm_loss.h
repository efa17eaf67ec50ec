#pragma once
// The LM head fused with next-token cross-entropy. Rows go through in chunks, so that only
// [chunk][V] logits exist at once: each chunk's logits become its gradient in place.
#include <cstdint>
#include <vector>

#include "train/bitlinear_train.h"

namespace mmfree {

struct LmLossScratch {
  int64_t chunk_rows = 0;
  std::vector<float> logits;  // [chunk_rows][V]
  // Chunks of at most ~32 MiB of logits, at least one row, at most `rows`.
  void reserve(int64_t rows, int64_t vocab);
};

// Positions labelled by the convention of SPEC.md: labels are the tokens shifted left by one, the
// last position of each row unlabelled.
inline int64_t labelled_positions(int64_t B, int64_t T) { return B * (T - 1); }

// x: [B*T][d], the final-norm output of tokens [B][T]. Returns the summed NLL over the labelled
// positions. With dx non-null it also writes dx [B*T][d] and adds to the head's grads, for the
// loss scaled by grad_coef (grad_coef = grad_scale / labelled positions for the mean).
double lm_head_loss(const TrainBitLinear& head, const float* x, const int32_t* tokens, int64_t B, int64_t T,
                    float grad_coef, float* dx, LmLossScratch& s, BitLinearTrainScratch& bs);

}  // namespace mmfree
