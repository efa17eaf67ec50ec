// The harness's metrics on hand-computed cases (lm_eval/api/metrics.py, api/task.py process_results).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "eval/metrics.h"

namespace mmfree {
namespace {

TEST(EvalMetrics, AccAndAccNormByCharacters) {
  // -10/2 = -5 and -12/6 = -2: the raw argmax is choice 0, the normalized one choice 1.
  EXPECT_EQ(eval::choice_correct({-10, -12}, 0), 1.0);
  EXPECT_EQ(eval::choice_correct({-10, -12}, 1), 0.0);
  EXPECT_EQ(eval::choice_correct_norm({-10, -12}, {"ab", "abcdef"}, 1), 1.0);
  // acc_norm divides by len() of the Python string: "é" is 1 character (2 bytes). By characters
  // -3/1 < -4/2, so choice 1 wins; by bytes (-1.5 > -2) choice 0 would.
  EXPECT_EQ(eval::choice_correct_norm({-3, -4}, {"\xC3\xA9", "ab"}, 1), 1.0);
  // Ties go to the first index, as np.argmax.
  EXPECT_EQ(eval::argmax({-1, -1, -2}), 0u);
  EXPECT_EQ(eval::choice_correct({-1, -1}, 1), 0.0);
}

TEST(EvalMetrics, MeanAndItsStandardError) {
  // mean 0.75; sample variance (3 * 0.0625 + 0.5625) / 3 = 0.25; stderr 0.5 / sqrt(4) = 0.25.
  EXPECT_DOUBLE_EQ(eval::mean({1, 0, 1, 1}), 0.75);
  EXPECT_DOUBLE_EQ(eval::mean_stderr({1, 0, 1, 1}), 0.25);
  EXPECT_TRUE(std::isnan(eval::mean_stderr({1})));
}

TEST(EvalMetrics, PerplexityAndItsBootstrap) {
  EXPECT_NEAR(eval::perplexity({-1, -3}), 7.38905609893065, 1e-12);                // exp(2)
  EXPECT_NEAR(eval::perplexity_bootstrap_stderr({-2, -2, -2}, 1000), 0.0, 1e-12);  // rounding of exp only
  // Against the delta method, exp(-m) * stderr(mean), which the bootstrap approaches for many
  // items: 2000 log-likelihoods; measured ratio 0.988, bound 5% (bootstrap noise at 2000
  // resamples is ~1.6%, the delta method's own error at this spread ~1%).
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-6, -1);
  std::vector<double> lls(2000);
  for (auto& x : lls) x = u(rng);
  const double delta = eval::perplexity(lls) * eval::mean_stderr(lls);
  const double ratio = eval::perplexity_bootstrap_stderr(lls, 2000) / delta;
  EXPECT_NEAR(ratio, 1.0, 0.05);
  RecordProperty("bootstrap_over_delta", std::to_string(ratio));
}

TEST(EvalMetrics, WordAndBytePerplexityAndBitsPerByte) {
  const eval::RollingTotals t{-100, 20, 80};
  EXPECT_NEAR(eval::word_perplexity(t), 148.4131591025766, 1e-9);    // exp(100 / 20)
  EXPECT_NEAR(eval::byte_perplexity(t), 3.4903429574618414, 1e-12);  // exp(100 / 80)
  EXPECT_NEAR(eval::bits_per_byte(t), 1.8033688011112042, 1e-12);    // 1.25 / ln 2
}

}  // namespace
}  // namespace mmfree
