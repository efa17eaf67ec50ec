// The vectorised element-wise kernels against the reference formulas: RMSNorm and the fused
// RMSNorm + int8 quantiser bit for bit, SiLU / the MLGRU step to a few float ulps.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/ternary_ref.h"
#include "model/ops.h"
#include "util/thread_pool.h"

namespace mmfree {
namespace {

std::vector<float> randn(int64_t count, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = d(rng);
  return v;
}

const int64_t kSizes[] = {1, 15, 16, 17, 128, 255, 2560, 6913};

TEST(Elementwise, RmsnormQuantizeMatchesReferenceExactly) {
  ThreadPool pool(2);
  for (Isa isa : available_isas())
    for (int64_t k : kSizes) {
      const int64_t n = 5;
      auto x = randn(n * k, static_cast<uint32_t>(k), 3.0f);
      std::fill(x.begin() + 2 * k, x.begin() + 3 * k, 0.0f);  // an all-zero row: amax clamps to 1e-5
      x[static_cast<size_t>(3 * k)] = 1e6f;                   // one huge value
      const auto w = randn(k, 99);
      std::vector<int8_t> q(static_cast<size_t>(n * k)), want_q(q.size());
      std::vector<float> s(static_cast<size_t>(n)), want_s(s.size());
      rmsnorm_quantize_ref(x.data(), w.data(), n, k, want_q.data(), want_s.data());
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        rmsnorm_quantize(isa, x.data(), w.data(), n, k, q.data(), s.data(), p);
        ASSERT_EQ(q, want_q) << isa_name(isa) << " k=" << k;
        ASSERT_EQ(s, want_s) << isa_name(isa) << " k=" << k;
      }
    }
}

TEST(Elementwise, RmsnormQuantizeRoundsHalfAwayFromZero) {
  // Exact ties: tune norm weights w[i] (which leave rstd and, below the row's maximum, the scale
  // unchanged) until x*rstd*w*s is exactly m + 0.5 in float, then both paths must round away from 0.
  const int64_t k = 40;
  std::vector<float> x = randn(k, 21), w(k, 1.0f);
  x[0] = 50.0f;  // the row's maximum: s = 127 / |x[0] * rstd|
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const float rstd = 1.0f / std::sqrt(static_cast<float>(ss / k) + 1e-6f);
  std::vector<int8_t> q(k);
  float s = 0;
  rmsnorm_quantize_ref(x.data(), w.data(), 1, k, q.data(), &s);
  std::vector<int> tie_at;
  for (int64_t i = 1; i < k; ++i) {
    const float target = (i % 2 ? 1.0f : -1.0f) * (static_cast<float>(i % 20) + 0.5f);
    float wi = target / (x[i] * rstd) / s;
    for (int step = 0; step < 200 && x[i] * rstd * wi * s != target; ++step)
      wi = std::nextafter(wi, (x[i] * rstd * wi * s < target) == (x[i] * rstd > 0) ? INFINITY : -INFINITY);
    if (x[i] * rstd * wi * s == target) {
      w[i] = wi;
      tie_at.push_back(static_cast<int>(i));
    }
  }
  ASSERT_GE(tie_at.size(), 10u) << "could not build enough exact ties";
  std::vector<int8_t> want(k), got(k);
  float want_s = 0, got_s = 0;
  rmsnorm_quantize_ref(x.data(), w.data(), 1, k, want.data(), &want_s);
  ASSERT_EQ(want_s, s);
  for (int i : tie_at) {
    const float target = x[i] * rstd * w[i] * s;
    ASSERT_EQ(want[i], static_cast<int8_t>(target > 0 ? target + 0.5f : target - 0.5f)) << "reference at " << i;
  }
  for (Isa isa : available_isas()) {
    rmsnorm_quantize(isa, x.data(), w.data(), 1, k, got.data(), &got_s);
    EXPECT_EQ(got, want) << isa_name(isa);
    EXPECT_EQ(got_s, want_s) << isa_name(isa);
  }
}

TEST(Elementwise, RmsnormMatchesReferenceExactly) {
  for (Isa isa : available_isas())
    for (int64_t k : kSizes) {
      const int64_t n = 3;
      const auto x = randn(n * k, static_cast<uint32_t>(k + 7), 2.0f);
      const auto w = randn(k, 5);
      std::vector<float> got(x.size()), want(x.size());
      rmsnorm_rows(x.data(), w.data(), n, k, 1e-6f, want.data());
      rmsnorm(isa, x.data(), w.data(), n, k, 1e-6f, got.data());
      ASSERT_EQ(got, want) << isa_name(isa) << " k=" << k;
    }
}

// |got - want| <= 1e-6 * scale[i] (scale: the magnitude of the terms that made want[i]; a few
// float ulps of them, as the vectorised exp is within about one ulp of std::exp).
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& scale,
                  const char* what) {
  for (size_t i = 0; i < want.size(); ++i) {
    const float tol = 1e-6f * scale[i] + 1e-30f;
    ASSERT_LE(std::fabs(got[i] - want[i]), tol) << what << " at " << i << ": " << got[i] << " vs " << want[i];
  }
}

TEST(Elementwise, SiluMulMatchesReference) {
  for (Isa isa : available_isas()) {
    const int64_t rows = 3, cols = 1001;
    auto a = randn(rows * cols * 2, 11, 4.0f);
    a[0] = 100.0f, a[1] = -100.0f, a[2] = 0.0f, a[3] = -1e30f, a[4] = 1e30f, a[5] = 88.0f, a[6] = -88.0f;
    const auto b = randn(rows * cols * 2, 12);
    std::vector<float> got(static_cast<size_t>(rows * cols)), want(got.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) want[r * cols + c] = siluf(a[r * 2 * cols + c]) * b[r * 2 * cols + c];
    silu_mul(isa, a.data(), b.data(), rows, cols, 2 * cols, got.data(), cols);
    std::vector<float> scale(want.size());
    for (size_t i = 0; i < want.size(); ++i) scale[i] = std::fabs(want[i]);
    expect_close(got, want, scale, isa_name(isa));
  }
}

TEST(Elementwise, MlgruStepMatchesReference) {
  for (Isa isa : available_isas())
    for (bool with_lb : {false, true}) {
      const int64_t d = 517;
      auto i = randn(d, 1, 3.0f), f = randn(d, 2, 3.0f), lb = randn(d, 3, 0.2f), h0 = randn(d, 4);
      i[0] = -90.0f, f[0] = 90.0f, f[1] = -90.0f;
      std::vector<float> want_h = h0, scale(d), got_h = h0, got_out(d);
      for (int64_t c = 0; c < d; ++c) {
        float fg = sigmoidf(f[c]);
        if (with_lb) fg = lb[c] + (1.0f - lb[c]) * fg;
        want_h[c] = fg * want_h[c] + siluf(i[c]) * (1.0f - fg);
        scale[c] = std::fabs(fg * h0[c]) + std::fabs(siluf(i[c]) * (1.0f - fg));
      }
      mlgru_step(isa, i.data(), f.data(), with_lb ? lb.data() : nullptr, d, got_h.data(), got_out.data());
      expect_close(got_h, want_h, scale, isa_name(isa));
      EXPECT_EQ(got_out, got_h);
    }
}

}  // namespace
}  // namespace mmfree
