#include "eval/metrics.h"

#include <cmath>
#include <limits>
#include <numbers>
#include <random>

#include "eval/pytext.h"

namespace mmfree::eval {

size_t argmax(const std::vector<double>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

double choice_correct(const std::vector<double>& lls, int gold) {
  return argmax(lls) == static_cast<size_t>(gold) ? 1.0 : 0.0;
}

double choice_correct_norm(const std::vector<double>& lls, const std::vector<std::string>& choices, int gold) {
  std::vector<double> norm(lls.size());
  for (size_t i = 0; i < lls.size(); ++i) norm[i] = lls[i] / static_cast<double>(py::len(choices[i]));
  return choice_correct(norm, gold);
}

double mean(const std::vector<double>& xs) {
  double s = 0;
  for (double x : xs) s += x;
  return xs.empty() ? std::numeric_limits<double>::quiet_NaN() : s / static_cast<double>(xs.size());
}

double mean_stderr(const std::vector<double>& xs) {
  const size_t n = xs.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  const double mu = mean(xs);
  double ss = 0;
  for (double x : xs) ss += (x - mu) * (x - mu);
  return std::sqrt(ss / static_cast<double>(n - 1)) / std::sqrt(static_cast<double>(n));
}

double perplexity(const std::vector<double>& lls) { return std::exp(-mean(lls)); }

double perplexity_bootstrap_stderr(const std::vector<double>& lls, int64_t iters, uint64_t seed) {
  const uint64_t n = lls.size();
  if (n == 0 || iters < 2) return std::numeric_limits<double>::quiet_NaN();
  std::mt19937_64 rng(seed);
  std::vector<double> reps(static_cast<size_t>(iters));
  for (auto& r : reps) {
    double s = 0;
    // An index in [0, n) from the top bits of a 64-bit draw (Lemire's multiply-shift).
    for (uint64_t k = 0; k < n; ++k) s += lls[static_cast<size_t>((static_cast<unsigned __int128>(rng()) * n) >> 64)];
    r = std::exp(-s / static_cast<double>(n));
  }
  return mean_stderr(reps) * std::sqrt(static_cast<double>(iters));  // sample stddev of the replicates
}

double word_perplexity(const RollingTotals& t) { return std::exp(-t.loglikelihood / static_cast<double>(t.words)); }
double byte_perplexity(const RollingTotals& t) { return std::exp(-t.loglikelihood / static_cast<double>(t.bytes)); }
double bits_per_byte(const RollingTotals& t) {
  return -t.loglikelihood / static_cast<double>(t.bytes) / std::numbers::ln2;
}

}  // namespace mmfree::eval
