#include "generate/sampler.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace mmfree {

Sampler::Sampler(const SamplerOptions& o, int64_t vocab) : opt_(o), rng_(o.seed), probs_(static_cast<size_t>(vocab)) {
  check(std::isfinite(o.temperature) && o.temperature >= 0, "--temperature must be a number >= 0");
}

int64_t Sampler::sample(const float* logits) {
  const int64_t V = static_cast<int64_t>(probs_.size());
  const int64_t best = std::max_element(logits, logits + V) - logits;
  if (opt_.temperature == 0) return best;
  const double mx = logits[best];
  double z = 0;
  for (int64_t v = 0; v < V; ++v) z += probs_[v] = std::exp((logits[v] - mx) / opt_.temperature);
  // One uniform draw against the cumulative sum: the same seed and logits give the same token.
  double u = std::uniform_real_distribution<double>(0.0, z)(rng_);
  for (int64_t v = 0; v < V; ++v) {
    u -= probs_[v];
    if (u < 0) return v;
  }
  return best;
}

}  // namespace mmfree
