#pragma once
// The harness's metrics and their standard errors (lm_eval/api/metrics.py, api/task.py
// process_results). Per item: acc = argmax of the log-likelihoods is the gold one; acc_norm = the
// same after dividing each by its choice's length in characters (len() of the Python string, not
// counting the target delimiter). Aggregates: mean with stderr sample_stddev / sqrt(n); LAMBADA's
// perplexity exp(-mean(ll)) with a bootstrap stderr; WikiText's weighted perplexities and bits per
// byte (no stderr in the harness).
#include <cstdint>
#include <string>
#include <vector>

namespace mmfree::eval {

// np.argmax: the first index of the largest value.
size_t argmax(const std::vector<double>& v);

// Per-item accuracy: 1 when argmax(lls) == gold, else 0; normalized divides lls[i] by
// len(choices[i]) in code points first.
double choice_correct(const std::vector<double>& lls, int gold);
double choice_correct_norm(const std::vector<double>& lls, const std::vector<std::string>& choices, int gold);

double mean(const std::vector<double>& xs);
// sample_stddev(xs) / sqrt(n); NaN for fewer than 2 items (the harness divides by zero there).
double mean_stderr(const std::vector<double>& xs);

// exp(-mean(lls)).
double perplexity(const std::vector<double>& lls);
// The harness's bootstrap_stderr(perplexity, lls, iters): the sample stddev of the perplexity of
// `iters` resamples with replacement. Our random draws are not Python's, so the figure agrees with
// the harness's to within the bootstrap's own noise (about 1/sqrt(2 iters) relative), not bit for bit.
double perplexity_bootstrap_stderr(const std::vector<double>& lls, int64_t iters, uint64_t seed = 1234);

// Sums of a rolling task: log-likelihood (nats) and the words and bytes they are divided by.
struct RollingTotals {
  double loglikelihood = 0;
  int64_t words = 0, bytes = 0;
};
double word_perplexity(const RollingTotals& t);  // exp(-ll / words)
double byte_perplexity(const RollingTotals& t);  // exp(-ll / bytes)
double bits_per_byte(const RollingTotals& t);    // -ll / bytes / ln 2

}  // namespace mmfree::eval
