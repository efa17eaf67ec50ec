#include "generate/sampler.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace mmfree {

Sampler::Sampler(const SamplerOptions& o, int64_t vocab)
    : opt_(o),
      rng_(o.seed),
      cand_(static_cast<size_t>(vocab)),
      top_(static_cast<size_t>(vocab)),
      scratch_(static_cast<size_t>(vocab)),
      recent_(static_cast<size_t>(std::max<int64_t>(o.repeat_last_n, 0))),
      penalised_(static_cast<size_t>(vocab), 0) {
  distinct_.reserve(recent_.size());
  check(std::isfinite(o.temperature) && o.temperature >= 0, "--temperature must be a number >= 0");
  check(o.top_k >= 0, "--top-k must be >= 0 (0 keeps every token)");
  check(o.top_p > 0 && o.top_p <= 1, "--top-p must be in (0, 1] (1 keeps every token)");
  check(o.min_p >= 0 && o.min_p <= 1, "--min-p must be in [0, 1] (0 keeps every token)");
  check(std::isfinite(o.repeat_penalty) && o.repeat_penalty > 0, "--repeat-penalty must be a number > 0 (1 is off)");
  check(o.repeat_last_n >= 0, "--repeat-last-n must be >= 0");
}

void Sampler::accept(int64_t token) {
  check(token >= 0 && static_cast<size_t>(token) < cand_.size(),
        "token id " + std::to_string(token) + " is outside the vocabulary [0, " + std::to_string(cand_.size()) + ")");
  if (recent_.empty()) return;
  recent_[recent_next_] = token;
  recent_next_ = (recent_next_ + 1) % recent_.size();
  recent_count_ = std::min(recent_count_ + 1, recent_.size());
}

int64_t Sampler::choices() const {
  if (opt_.temperature == 0) return 1;
  const auto V = static_cast<int64_t>(cand_.size());
  return opt_.top_k > 0 ? std::min(opt_.top_k, V) : V;
}

ChoiceRow Sampler::choice_row() {
  // Each distinct recent token is penalised once, however often it occurs.
  distinct_.clear();
  if (opt_.repeat_penalty != 1.0f && recent_count_ > 0) {
    if (++round_ == 0) {  // wrapped: forget old rounds
      std::fill(penalised_.begin(), penalised_.end(), 0);
      round_ = 1;
    }
    for (size_t i = 0; i < recent_count_; ++i) {
      const auto t = static_cast<size_t>(recent_[i]);
      if (penalised_[t] == round_) continue;
      penalised_[t] = round_;
      distinct_.push_back(static_cast<int32_t>(t));
    }
  }
  return {distinct_, opt_.repeat_penalty, opt_.temperature};
}

std::span<const Candidate> Sampler::distribution(const float* logits) {
  const int64_t n = choices();
  select_top_host(logits, static_cast<int64_t>(cand_.size()), choice_row(), n, top_.data(), scratch_);
  return distribution_of({top_.data(), static_cast<size_t>(n)});
}

std::span<const Candidate> Sampler::distribution_of(std::span<const TokenChoice> top) {
  check(static_cast<int64_t>(top.size()) == choices(), "internal: the sampler needs its choices() most likely tokens");
  size_t n = top.size();
  for (size_t i = 0; i < n; ++i) cand_[i] = {top[i].id, top[i].logit, 0.0f};
  if (opt_.temperature == 0) {
    cand_[0].p = 1;
    return {cand_.data(), 1};
  }
  const auto normalise = [&] {
    double z = 0;
    for (size_t i = 0; i < n; ++i) z += cand_[i].p;
    for (size_t i = 0; i < n; ++i) cand_[i].p = static_cast<float>(cand_[i].p / z);
  };
  const float best = cand_[0].logit;
  for (size_t i = 0; i < n; ++i) cand_[i].p = std::exp(cand_[i].logit - best);
  normalise();
  if (opt_.top_p < 1) {
    double cum = 0;
    size_t keep = 0;
    while (keep < n && cum < opt_.top_p) cum += cand_[keep++].p;
    n = std::max<size_t>(keep, 1);
    normalise();
  }
  if (opt_.min_p > 0) {
    const float floor = opt_.min_p * cand_[0].p;
    size_t keep = 1;
    while (keep < n && cand_[keep].p >= floor) ++keep;
    n = keep;
    normalise();
  }
  return {cand_.data(), n};
}

int64_t Sampler::sample(const float* logits) { return draw(distribution(logits)); }
int64_t Sampler::sample_of(std::span<const TokenChoice> top) { return draw(distribution_of(top)); }

int64_t Sampler::draw(std::span<const Candidate> dist) {
  // A uniform double in [0, 1) from the top 53 bits: the same on every standard library.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  double cum = 0;
  int64_t pick = dist.back().id;
  for (const auto& c : dist) {
    cum += c.p;
    if (u < cum) {
      pick = c.id;
      break;
    }
  }
  accept(pick);
  return pick;
}

}  // namespace mmfree
