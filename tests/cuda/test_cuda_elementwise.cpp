// The CUDA float kernels against the CPU reference: the residual add, RMSNorm and int8 quantiser
// bit for bit; anything with sigmoid or SiLU to the bounds CUDA's expf allows (2 ulp from the
// correctly rounded exp, against glibc's < 1 ulp), each test printing the differences it measured.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backend/cuda/elementwise.h"
#include "kernels/elementwise.h"
#include "model/ops.h"
#include "quant_check.h"

namespace mmfree::cuda::test {
namespace {

using CudaElementwise = CudaTest;

TEST_F(CudaElementwise, ResidualNormQuantizeMatchesTheReferenceExactly) {
  // Rows of up to 8192 padded columns take the unrolled kernel in groups of 4 columns where every
  // row starts 16-byte aligned (k and ld multiples of 4), else the loop over shared memory, as do
  // longer rows, and 256 rows or more whose stride (k + 5) rules out 16-byte loads (elementwise.cu
  // launch_row_kernels; the many-row kernel has its own tests, test_cuda_many_rows.cpp).
  const std::pair<int64_t, int64_t> shapes[] = {{4, 1}, {4, 17}, {4, 300}, {4, 2560}, {4, 6912}, {2, 9000}, {300, 640}};
  for (const auto& [n, k] : shapes)
    for (const int64_t pad : {5, 8}) {
      const int64_t ld = k + pad;
      SCOPED_TRACE(testing::Message() << n << " x " << k << ", row stride " << ld);
      auto x = randn(n * ld, 1, 3.0f);
      const auto add = randn(n * ld, 2, 0.5f), w_pre = randn(k, 3);
      std::fill(x.begin(), x.begin() + ld, 0.0f);  // row 0: x + add only
      Targets tg(n, k, 3, 10);
      DeviceBuffer<float> d_x = to_device(x), d_add = to_device(add), d_pre = to_device(w_pre);
      Stream s;
      const auto views = tg.views();
      norm_quantize(d_x.data(), d_add.data(), ld, d_pre.data(), 1e-6f, n, k, views, tg.stride, s.get());
      s.synchronize();
      // CPU: x += add; m = rmsnorm_rows(x, w_pre); each target: rmsnorm_quantize_ref(m).
      std::vector<float> dense(static_cast<size_t>(n * k)), m(dense.size());
      for (int64_t t = 0; t < n; ++t)
        for (int64_t c = 0; c < k; ++c) {
          x[t * ld + c] = x[t * ld + c] + add[t * ld + c];
          dense[t * k + c] = x[t * ld + c];
        }
      rmsnorm_rows(dense.data(), w_pre.data(), n, k, 1e-6f, m.data());
      EXPECT_EQ(to_host(d_x), x);
      for (size_t j = 0; j < 3; ++j) {
        const Quantised want = cpu_quantise(m, tg.w[j], n, k, tg.stride);
        EXPECT_EQ(to_host(tg.q[j]), want.q) << "target " << j;
        EXPECT_EQ(to_host(tg.scale[j]), want.scale) << "target " << j;
        EXPECT_EQ(to_host(tg.sums[j]), want.sums) << "target " << j;
      }
    }
}

TEST_F(CudaElementwise, QuantizeWithoutPreNormMatchesExactly) {
  const int64_t n = 3, k = 1000;
  auto x = randn(n * k, 4, 2.0f);
  std::fill(x.begin() + k, x.begin() + 2 * k, 0.0f);  // an all-zero row: amax clamps to 1e-5
  x[2 * k] = 1e6f;
  Targets tg(n, k, 1, 20);
  DeviceBuffer<float> d_x = to_device(x);
  Stream s;
  const auto views = tg.views();
  norm_quantize(d_x.data(), nullptr, k, nullptr, 1e-6f, n, k, views, tg.stride, s.get());
  s.synchronize();
  const Quantised want = cpu_quantise(x, tg.w[0], n, k, tg.stride);
  EXPECT_EQ(to_host(tg.q[0]), want.q);
  EXPECT_EQ(to_host(tg.scale[0]), want.scale);
  EXPECT_EQ(to_host(tg.sums[0]), want.sums);
  EXPECT_EQ(to_host(d_x), x);  // no residual: x unchanged
}

TEST_F(CudaElementwise, GatedNormQuantizeWithinExpBounds) {
  for (const int64_t ld : {2563, 2564}) {  // rows not 16-byte aligned, and aligned (groups of 4 columns)
    SCOPED_TRACE(testing::Message() << "row stride " << ld);
    const int64_t n = 6, k = 2560;
    const auto g = randn(n * ld, 5, 2.0f), h = randn(n * ld, 6, 1.5f), w_g = randn(k, 7);
    Targets tg(n, k, 1, 30);
    DeviceBuffer<float> d_g = to_device(g), d_h = to_device(h), d_wg = to_device(w_g);
    Stream s;
    const auto views = tg.views();
    gated_norm_quantize(d_g.data(), d_h.data(), ld, d_wg.data(), 1e-6f, n, k, views, tg.stride, s.get());
    s.synchronize();
    // CPU (Mlgru::forward): g' = rmsnorm(g) * w_g, m = silu(h) * g', then o_proj's quantiser.
    std::vector<float> m(static_cast<size_t>(n * k));
    for (int64_t t = 0; t < n; ++t) {
      const float rstd = rms_rstd(g.data() + t * ld, k, 1e-6f);
      for (int64_t c = 0; c < k; ++c) m[t * k + c] = siluf(h[t * ld + c]) * (g[t * ld + c] * rstd * w_g[c]);
    }
    expect_within_exp_bounds(compare(tg, 0, cpu_quantise(m, tg.w[0], n, k, tg.stride)), "gated");
  }
}

TEST_F(CudaElementwise, MlgruStepGatedQuantizeFollowsTheCpu) {
  // Five sequences in a pool of eight state slots, in scrambled order: their slots step, the others
  // stay. Rows not 16-byte aligned, and aligned (groups of 4 columns).
  for (const int64_t ld : {2563, 2564}) {
    SCOPED_TRACE(testing::Message() << "row stride " << ld);
    const int64_t n = 5, k = 2560, pool = 8, slot_stride = k + 8;
    const std::vector<int32_t> slots = {6, 0, 3, 7, 1};
    const auto in_i = randn(n * ld, 51, 2.0f), in_f = randn(n * ld, 52, 2.0f), g = randn(n * ld, 53, 2.0f);
    const auto w_g = randn(k, 54), h0 = randn(pool * slot_stride, 55);
    std::vector<float> lb(static_cast<size_t>(k));
    for (int64_t c = 0; c < k; ++c) lb[c] = static_cast<float>(c % 97) / 97.0f;
    Targets tg(n, k, 1, 60);
    DeviceBuffer<float> d_i = to_device(in_i), d_f = to_device(in_f), d_g = to_device(g), d_wg = to_device(w_g);
    DeviceBuffer<float> d_lb = to_device(lb), d_states = to_device(h0);
    DeviceBuffer<int32_t> d_slots = to_device(slots);
    Stream s;
    const auto views = tg.views();
    mlgru_step_gated_quantize(d_i.data(), d_f.data(), d_lb.data(), d_states.data(), d_slots.data(), slot_stride, d_g.data(), ld,
                              d_wg.data(), 1e-6f, n, k, views, tg.stride, s.get());
    s.synchronize();
    // CPU: mlgru_step on each sequence's state, then Mlgru::forward's output gate and o_proj's quantiser.
    std::vector<float> states = h0, h(static_cast<size_t>(k)), m(static_cast<size_t>(n * k));
    for (int64_t t = 0; t < n; ++t) {
      mlgru_step(Isa::Scalar, in_i.data() + t * ld, in_f.data() + t * ld, lb.data(), k, states.data() + slots[t] * slot_stride,
                 h.data());
      const float rstd = rms_rstd(g.data() + t * ld, k, 1e-6f);
      for (int64_t c = 0; c < k; ++c) m[t * k + c] = siluf(h[c]) * (g[t * ld + c] * rstd * w_g[c]);
    }
    const auto got = to_host(d_states);
    double scale = 0, max_err = 0;
    for (size_t e = 0; e < states.size(); ++e) {
      scale = std::max(scale, std::fabs(double(states[e])));
      max_err = std::max(max_err, std::fabs(double(got[e]) - states[e]));
    }
    for (int64_t slot : {2, 4, 5})  // slots no sequence named: untouched
      for (int64_t c = 0; c < slot_stride; ++c) ASSERT_EQ(got[slot * slot_stride + c], h0[slot * slot_stride + c]);
    std::printf("mlgru step + gate: states max |diff| %.2e of max |h| %.2f\n", max_err, scale);
    EXPECT_LE(max_err, 2e-6 * scale);  // one step: exp's few ulp (MlgruScanFollowsTheCpuSteps)
    expect_within_exp_bounds(compare(tg, 0, cpu_quantise(m, tg.w[0], n, k, tg.stride)), "mlgru step + gate");
  }
}

TEST_F(CudaElementwise, GluQuantizeWithinExpBounds) {
  const int64_t n = 5, k = 6912, ld = 2 * k + 16;
  const auto gv = randn(n * ld, 8, 2.0f);
  Targets tg(n, k, 1, 40);
  DeviceBuffer<float> d_gv = to_device(gv);
  Stream s;
  const auto views = tg.views();
  glu_quantize(d_gv.data(), ld, n, k, views, tg.stride, s.get());
  s.synchronize();
  std::vector<float> m(static_cast<size_t>(n * k));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < k; ++c) m[t * k + c] = siluf(gv[t * ld + c]) * gv[t * ld + k + c];
  expect_within_exp_bounds(compare(tg, 0, cpu_quantise(m, tg.w[0], n, k, tg.stride)), "glu");
}

TEST_F(CudaElementwise, MlgruScanFollowsTheCpuSteps) {
  const int64_t B = 3, d = 300;
  for (bool with_lb : {false, true})
    for (int64_t T : {1, 2, 31, 33, 300, 2048}) {
      SCOPED_TRACE(testing::Message() << "T " << T << (with_lb ? ", lower bound" : ""));
      const int64_t ld = d + 4, h_stride = d + 8;
      const auto in_i = randn(B * T * ld, 9, 2.0f), in_f = randn(B * T * ld, 10, 2.0f);
      std::vector<float> lb(static_cast<size_t>(d));
      for (int64_t c = 0; c < d; ++c) lb[c] = static_cast<float>(c) / static_cast<float>(d);  // 0 .. ~1: slow decay too
      auto h0 = randn(B * h_stride, 11);
      DeviceBuffer<float> d_i = to_device(in_i), d_f = to_device(in_f), d_lb = to_device(lb), d_h = to_device(h0);
      DeviceBuffer<float> d_out(B * T * d);
      d_out.fill_bytes(0xff);
      Stream s;
      mlgru_scan(d_i.data(), d_f.data(), ld, with_lb ? d_lb.data() : nullptr, B, T, d, d_h.data(), h_stride, d_out.data(), d,
                 s.get());
      s.synchronize();
      // CPU: mlgru_step (the reference formulas) in time order per sequence.
      std::vector<float> h = h0, want(static_cast<size_t>(B * T * d));
      std::vector<float> i_row(static_cast<size_t>(d)), f_row(static_cast<size_t>(d));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) {
          std::copy_n(in_i.begin() + (b * T + t) * ld, d, i_row.begin());
          std::copy_n(in_f.begin() + (b * T + t) * ld, d, f_row.begin());
          mlgru_step(Isa::Scalar, i_row.data(), f_row.data(), with_lb ? lb.data() : nullptr, d, h.data() + b * h_stride,
                     want.data() + (b * T + t) * d);
        }
      const auto got = to_host(d_out), got_h = to_host(d_h);
      // Each step's state is a convex mix of the last state and silu(i) (|h| <= max(|h0|, max silu)),
      // so errors are measured against the largest |h|: exp's few ulp per step (a contraction keeps
      // them from growing), plus the scan's re-association across chunks: bound 2e-6 of max |h|.
      double scale = 0, max_err = 0;
      for (size_t e = 0; e < want.size(); ++e) scale = std::max(scale, std::fabs(double(want[e])));
      for (size_t e = 0; e < want.size(); ++e) {
        ASSERT_FALSE(std::isnan(got[e])) << "element " << e << " not written";
        max_err = std::max(max_err, std::fabs(double(got[e]) - want[e]));
      }
      for (int64_t b = 0; b < B; ++b)
        for (int64_t c = 0; c < d; ++c) max_err = std::max(max_err, std::fabs(double(got_h[b * h_stride + c]) - h[b * h_stride + c]));
      std::printf("mlgru T=%lld%s: max |diff| %.2e of max |h| %.2f (%.2e)\n", static_cast<long long>(T),
                  with_lb ? " lb" : "", max_err, scale, max_err / scale);
      EXPECT_LE(max_err, 2e-6 * scale);
    }
}

TEST_F(CudaElementwise, AddRowsIsExact) {
  const int64_t n = 7, k = 333;
  auto x = randn(n * (k + 2), 12);
  const auto y = randn(n * (k + 5), 13);
  DeviceBuffer<float> d_x = to_device(x), d_y = to_device(y);
  Stream s;
  add_rows(d_x.data(), k + 2, d_y.data(), k + 5, n, k, s.get());
  s.synchronize();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) x[r * (k + 2) + c] += y[r * (k + 5) + c];
  EXPECT_EQ(to_host(d_x), x);
}

}  // namespace
}  // namespace mmfree::cuda::test
