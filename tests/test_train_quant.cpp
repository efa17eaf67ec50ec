// The training quantizers against the reference ones: bit-identical, odd sizes and ties included.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/ternary_ref.h"
#include "kernels/train_quant.h"

namespace mmfree {
namespace {

TEST(TrainQuant, RoundHalfAwayIsStdRound) {
  const float ties[] = {0.0f, -0.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 126.5f, -127.5f, 0.49999997f, -0.49999997f,
                        0.50000006f, 1e-30f, 8388607.5f, -8388607.5f, 16777216.0f, 2147483520.0f, -2147483520.0f};
  for (float v : ties) EXPECT_EQ(round_half_away(v), std::round(v)) << v;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-200.0f, 200.0f);
  for (int i = 0; i < 100000; ++i) {
    const float v = dist(rng);
    ASSERT_EQ(round_half_away(v), std::round(v)) << v;
  }
}

void expect_same_ternary(const std::vector<float>& w) {
  std::vector<int8_t> want(w.size());
  std::vector<float> got(w.size());
  const float s_ref = ternarize_ref(w.data(), static_cast<int64_t>(w.size()), want.data());
  const float s_fast = ternarize_to_float(w.data(), static_cast<int64_t>(w.size()), got.data());
  EXPECT_EQ(s_fast, s_ref);
  for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(got[i], static_cast<float>(want[i])) << "element " << i << " = " << w[i];
}

TEST(TrainQuant, TernarizeMatchesReference) {
  // mean |W| = 1, so W * s_w = W: exact ties at +-0.5 and +-1.5.
  expect_same_ternary({0.5f, -0.5f, 1.5f, -1.5f, 0.25f, -0.25f, 2.0f, -1.5f});
  expect_same_ternary({0.0f, 0.0f, 0.0f});  // s_w from the 1e-5 floor
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (size_t n : {1u, 7u, 255u, 4097u}) {
    std::vector<float> w(n);
    for (auto& v : w) v = normal(rng);
    expect_same_ternary(w);
  }
}

TEST(TrainQuant, RmsnormQuantizeMatchesReference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto [n, k] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {17, 129}, {64, 512}, {5, 1537}}) {
    std::vector<float> x(static_cast<size_t>(n * k)), w(static_cast<size_t>(k));
    for (auto& v : x) v = 3.0f * normal(rng);
    for (auto& v : w) v = 1.0f + 0.5f * normal(rng);
    x[0] = 0.0f;
    std::vector<int8_t> want(x.size());
    std::vector<float> got(x.size()), s_want(static_cast<size_t>(n)), s_got(static_cast<size_t>(n));
    rmsnorm_quantize_ref(x.data(), w.data(), n, k, want.data(), s_want.data());
    rmsnorm_quantize_to_float(x.data(), w.data(), n, k, got.data(), s_got.data());
    EXPECT_EQ(s_got, s_want);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(got[i], static_cast<float>(want[i])) << n << "x" << k << " element " << i;
  }
  // An all-zero row: the 1e-5 floor on max |u|.
  std::vector<float> zeros(9, 0.0f), ones(9, 1.0f), got(9), s(1);
  std::vector<int8_t> want(9);
  std::vector<float> s_want(1);
  rmsnorm_quantize_ref(zeros.data(), ones.data(), 1, 9, want.data(), s_want.data());
  rmsnorm_quantize_to_float(zeros.data(), ones.data(), 1, 9, got.data(), s.data());
  EXPECT_EQ(s, s_want);
  for (float v : got) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace mmfree
