// The vectorised element-wise kernels against the reference formulas: RMSNorm and the fused
// RMSNorm + int8 quantiser bit for bit, SiLU / the MLGRU step to a few float ulps.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/ternary_ref.h"
#include "model/ops.h"
#include "util/thread_pool.h"
#include "test_util.h"

namespace mmfree {
namespace {

using test::randn;
using test::random_ternary;

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

// What an MLGRU step's result is sensitive to: h = fg * h0 + s * (1 - fg) moves by
// (h0 - s) * dfg when the gate fg moves, and the vectorised exp moves fg by about an ulp, so the
// scale counts |fg| * (|h0| + |s|) besides the two terms. (The terms alone were the scale until
// widths of several thousand met gates near 1 beside a large silu: differences of 1.1e-6 of the
// terms, 2 ulps of fg, in the scalar formula against itself in double as much as in AVX-512.)
float mlgru_scale(float fg, float h0, float s) {
  return std::fabs(fg * h0) + std::fabs(s * (1.0f - fg)) + std::fabs(fg) * (std::fabs(h0) + std::fabs(s));
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
        scale[c] = mlgru_scale(fg, h0[c], siluf(i[c]));
      }
      mlgru_step(isa, i.data(), f.data(), with_lb ? lb.data() : nullptr, d, got_h.data(), got_out.data());
      expect_close(got_h, want_h, scale, isa_name(isa));
      EXPECT_EQ(got_out, got_h);
    }
}

// Widths around every vector width and tail length (16 floats per AVX-512 register, 8 per AVX2),
// up to several thousand, odd ones included.
const int64_t kWidths[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 127, 129,
                           255, 256, 257, 511, 513, 1001, 1024, 2047, 2560, 4097, 5461, 6913};

// silu_mul as production calls it: the MLGRU writes silu(i) * g over g (out aliases b, all strides
// d), the GLU reads gate and value interleaved in one buffer (in_stride 2I) into another; and with
// out aliasing a. Every width, with and without the pool.
TEST(Elementwise, SiluMulAtEveryWidthWithProductionAliasing) {
  ThreadPool pool(2);
  for (Isa isa : available_isas())
    for (int64_t cols : kWidths)
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        const int64_t rows = 3;
        const auto a = randn(rows * cols, static_cast<uint32_t>(cols), 4.0f);
        const auto b = randn(rows * cols, static_cast<uint32_t>(cols + 1));
        std::vector<float> want(a.size()), scale(a.size());
        for (size_t k = 0; k < a.size(); ++k) {
          want[k] = siluf(a[k]) * b[k];
          scale[k] = std::fabs(want[k]);
        }
        const std::string what = std::string(isa_name(isa)) + " cols=" + std::to_string(cols);
        std::vector<float> over_b = b;  // mlgru.cpp: silu_mul(i, g, ..., out = g)
        silu_mul(isa, a.data(), over_b.data(), rows, cols, cols, over_b.data(), cols, p);
        expect_close(over_b, want, scale, (what + " out=b").c_str());
        std::vector<float> over_a = a;
        silu_mul(isa, over_a.data(), b.data(), rows, cols, cols, over_a.data(), cols, p);
        expect_close(over_a, want, scale, (what + " out=a").c_str());
        std::vector<float> gv(static_cast<size_t>(2 * rows * cols)), out(a.size());  // glu.cpp: [gate | value] rows
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            gv[static_cast<size_t>(r * 2 * cols + c)] = a[static_cast<size_t>(r * cols + c)];
            gv[static_cast<size_t>(r * 2 * cols + cols + c)] = b[static_cast<size_t>(r * cols + c)];
          }
        silu_mul(isa, gv.data(), gv.data() + cols, rows, cols, 2 * cols, out.data(), cols, p);
        expect_close(out, want, scale, (what + " interleaved").c_str());
      }
}

// mlgru_step as mlgru.cpp calls it: the new state written over the input gate (h_out aliases i),
// at every width, with and without lower bounds.
TEST(Elementwise, MlgruStepAtEveryWidthWithOutputOverInput) {
  for (Isa isa : available_isas())
    for (int64_t d : kWidths)
      for (bool with_lb : {false, true}) {
        const auto i0 = randn(d, static_cast<uint32_t>(d), 3.0f), f = randn(d, static_cast<uint32_t>(d + 1), 3.0f);
        const auto lb = randn(d, static_cast<uint32_t>(d + 2), 0.2f), h0 = randn(d, static_cast<uint32_t>(d + 3));
        std::vector<float> want(static_cast<size_t>(d)), scale(want.size());
        for (size_t c = 0; c < want.size(); ++c) {
          float fg = sigmoidf(f[c]);
          if (with_lb) fg = lb[c] + (1.0f - lb[c]) * fg;
          want[c] = fg * h0[c] + siluf(i0[c]) * (1.0f - fg);
          scale[c] = mlgru_scale(fg, h0[c], siluf(i0[c]));
        }
        std::vector<float> h = h0, i = i0;
        mlgru_step(isa, i.data(), f.data(), with_lb ? lb.data() : nullptr, d, h.data(), i.data());
        const std::string what = std::string(isa_name(isa)) + " d=" + std::to_string(d);
        expect_close(h, want, scale, what.c_str());
        EXPECT_EQ(i, h) << what;  // the output landed over i, equal to the state
      }
}

}  // namespace
}  // namespace mmfree
