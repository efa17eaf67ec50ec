#pragma once
// The next-token choice's heavy part (generate/sampler.h), defined once: for one row of V logits,
// the repetition penalty (a positive logit of each penalised id divided by `penalty`, a negative
// one multiplied), then, when temperature > 0, every logit divided by it; then the k most likely,
// most likely first, the lower id first among equals (a total order: the choice is fully
// determined). Backend::select_top runs it where the logits are; this is the host's version, the
// reference the devices are tested against.
#include <cstdint>
#include <span>
#include <vector>

namespace mmfree {

struct TokenChoice {
  int32_t id = 0;
  float logit = 0;  // after the penalty and the temperature
};

struct ChoiceRow {
  std::span<const int32_t> penalised;  // distinct ids in [0, V)
  float penalty = 1;
  float temperature = 0;  // 0: no division (greedy)
};

// Throws Error unless every penalised id of `how` lies in [0, V).
void check_penalised(const ChoiceRow& how, int64_t V);

// Writes the min(k, V) most likely of logits [V] to out. scratch is resized to V (once: reuse it).
void select_top_host(const float* logits, int64_t V, const ChoiceRow& how, int64_t k, TokenChoice* out,
                     std::vector<TokenChoice>& scratch);

}  // namespace mmfree
