#include "backend/select_top.h"

#include <algorithm>

#include "util/error.h"

namespace mmfree {

namespace {
bool more_likely(const TokenChoice& a, const TokenChoice& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }
}  // namespace

void check_penalised(const ChoiceRow& how, int64_t V) {
  for (int32_t id : how.penalised)
    if (id < 0 || id >= V) throw Error("internal: penalised token " + std::to_string(id) + " outside the vocabulary");
}

void select_top_host(const float* logits, int64_t V, const ChoiceRow& how, int64_t k, TokenChoice* out,
                     std::vector<TokenChoice>& scratch) {
  if (V <= 0 || k <= 0) throw Error("internal: select_top of " + std::to_string(k) + " from " + std::to_string(V));
  check_penalised(how, V);
  scratch.resize(static_cast<size_t>(V));
  for (int64_t v = 0; v < V; ++v) scratch[static_cast<size_t>(v)] = {static_cast<int32_t>(v), logits[v]};
  if (how.penalty != 1.0f)
    for (int32_t id : how.penalised) {
      float& l = scratch[static_cast<size_t>(id)].logit;
      l = l > 0 ? l / how.penalty : l * how.penalty;
    }
  if (how.temperature > 0)
    for (auto& c : scratch) c.logit /= how.temperature;
  const auto n = static_cast<std::ptrdiff_t>(std::min(k, V));
  if (n == 1) {
    out[0] = *std::min_element(scratch.begin(), scratch.end(), more_likely);
    return;
  }
  if (n < V) std::nth_element(scratch.begin(), scratch.begin() + (n - 1), scratch.end(), more_likely);
  std::sort(scratch.begin(), scratch.begin() + n, more_likely);
  std::copy_n(scratch.begin(), n, out);
}

}  // namespace mmfree
