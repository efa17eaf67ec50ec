// Randomised test benches of the accelerator's units, each run on the simulated core
// (hw/rtl/mmf_core.sv) by a one- or two-instruction program and checked against an independent
// reference: the ternary reference kernels (exact integer sums), the reference RMSNorm +
// quantizer, and the element-wise formulas evaluated in double. Fixed-point bounds come from the
// formats (docs/HARDWARE.md, "Approximations and errors"); each test prints its measured error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "core_sim.h"
#include "hw_program.h"
#include "kernels/ternary_ref.h"

namespace mmfree::hw {
namespace {

constexpr double kV24 = 1.0 / 16777216;  // a vector element's resolution

std::vector<int64_t> v24(const std::vector<double>& v) {
  std::vector<int64_t> o;
  for (double x : v) o.push_back(to_v24(x));
  return o;
}
std::vector<int32_t> p24(const std::vector<double>& v) {
  std::vector<int32_t> o;
  for (double x : v) o.push_back(to_p24(x));
  return o;
}

Instr quant(uint16_t a, uint16_t p, int64_t k, float s_w = 1.0f) {
  return {.op = Op::Quant, .a = a, .p = p, .k = static_cast<uint16_t>(k), .invk = inv_k_q32(k), .beta = beta_q48(s_w)};
}
Instr tmv(uint16_t dst, int64_t m, int64_t k, bool raw) {
  return {.op = Op::Tmv, .raw = raw, .dst = dst, .k = static_cast<uint16_t>(k), .m = static_cast<uint16_t>(m)};
}

// Identity weights: a raw product with them reads back the quantized codes.
std::vector<int8_t> identity(int64_t k) {
  std::vector<int8_t> t(static_cast<size_t>(k * k), 0);
  for (int64_t i = 0; i < k; ++i) t[i * k + i] = 1;
  return t;
}

TEST(HwTernaryMv, RawSumsEqualReferenceKernelAtAnyBandwidth) {
  std::mt19937 rng(19);
  struct Case { int64_t m, k; uint16_t num, den; };
  // bandwidth num/den bytes per cycle; a beat is 16 bytes
  const Case cases[] = {{1, 64, 1, 0}, {37, 128, 1, 0}, {64, 512, 16, 1}, {20, 256, 3, 1}, {9, 1024, 7, 3}, {50, 192, 40, 1}};
  for (const Case& c : cases) {
    CoreSim core;
    core.set_bandwidth(c.num, c.den);
    std::uniform_int_distribution<int> qd(-127, 127), td(-1, 1);
    std::vector<int8_t> q(static_cast<size_t>(c.k)), w(static_cast<size_t>(c.m * c.k));
    for (auto& v : q) v = static_cast<int8_t>(qd(rng));
    q[rng() % c.k] = (rng() & 1) ? 127 : -127;  // max|q| = 127: the quantizer returns q unchanged
    for (auto& v : w) v = static_cast<int8_t>(td(rng));
    std::vector<int32_t> ref(static_cast<size_t>(c.m));
    ternary_matmul_ref(w.data(), c.m, c.k, q.data(), 1, ref.data());

    std::vector<double> qv(q.begin(), q.end());
    core.write_vectors(0, v24(qv));
    core.write_params(0, std::vector<int32_t>(static_cast<size_t>(c.k), 1 << 24));
    core.set_weights(pack_weights(w.data(), c.m, c.k));
    const auto dst = static_cast<uint16_t>(c.k);
    core.load_program({quant(0, 0, c.k), {.op = Op::End}});
    const int64_t quant_cycles = core.run();
    core.load_program({quant(0, 0, c.k), tmv(dst, c.m, c.k, true), {.op = Op::End}});
    const int64_t mv_cycles = core.run() - quant_cycles;
    EXPECT_EQ(core.read_vectors(dst, c.m), std::vector<int64_t>(ref.begin(), ref.end())) << "m " << c.m << " k " << c.k;

    // Memory bound: the streamer never exceeds the set bandwidth, and loses at most a few cycles.
    const int64_t beats = c.m * c.k / kLanes;
    const double per_beat = c.den == 0 ? 1.0 : std::max(1.0, 16.0 * c.den / c.num);
    EXPECT_GE(mv_cycles, static_cast<int64_t>(std::floor(beats * per_beat)) - 2);
    EXPECT_LE(mv_cycles, static_cast<int64_t>(std::ceil(beats * per_beat)) + 8);
    std::printf("[ hw ] tmv %lldx%lld at %u/%u B/cycle: %lld cycles, %lld beats\n", (long long)c.m, (long long)c.k, c.num,
                c.den, (long long)mv_cycles, (long long)beats);

    // Scaled output: round(sum * scale / 2^16), the scale applied once per row.
    core.load_program({quant(0, 0, c.k, 0.37f), tmv(dst, c.m, c.k, false), {.op = Op::End}});
    core.run();
    const auto y = core.read_vectors(dst, c.m);
    const auto s = static_cast<__int128>(core.last_scale());
    for (int64_t r = 0; r < c.m; ++r)
      ASSERT_EQ(y[r], static_cast<int64_t>((ref[r] * s + (__int128{1} << 15)) >> 16)) << "row " << r;
  }
}

TEST(HwNormQuant, QuantMatchesReferenceQuantizer) {
  std::mt19937 rng(7);
  CoreSim core;
  double worst_scale = 0;
  int flips = 0, total = 0;
  for (int trial = 0; trial < 6; ++trial) {
    const int64_t k = 64 << (trial % 4);  // 64 .. 512
    const double sigma = std::pow(10.0, -1.3 + 0.4 * trial);  // 0.05 .. 5
    std::normal_distribution<double> xd(0, sigma), wd(1.0, 0.4);
    std::vector<double> x(static_cast<size_t>(k)), w(static_cast<size_t>(k));
    for (auto& v : x) v = static_cast<float>(xd(rng));  // a float that v24 holds exactly
    for (auto& v : w) v = wd(rng);
    const auto xq = v24(x);
    const auto wq = p24(w);
    std::vector<float> xf, wf;  // the exact fixed-point values: the reference sees what the core sees
    for (int64_t i = 0; i < k; ++i) {
      xf.push_back(static_cast<float>(from_v24(xq[i])));
      wf.push_back(static_cast<float>(from_p24(wq[i])));
      ASSERT_EQ(double(xf.back()), from_v24(xq[i]));
    }
    std::vector<int8_t> qref(static_cast<size_t>(k));
    float s_x = 0;
    rmsnorm_quantize_ref(xf.data(), wf.data(), 1, k, qref.data(), &s_x);

    const float s_w = 12.5f;
    core.write_vectors(0, xq);
    core.write_params(0, wq);
    const auto id = identity(k);
    core.set_weights(pack_weights(id.data(), k, k));
    core.load_program({quant(0, 0, k, s_w), tmv(static_cast<uint16_t>(k), k, k, true), {.op = Op::End}});
    core.run();
    const auto q = core.read_vectors(static_cast<uint16_t>(k), k);

    // The codes: equal, except where 127 |u| / max|u| (exact, in double) is within 2e-4 of a
    // rounding boundary: the core's ratio is exact to 5e-5 codes (24-bit operands), fp32's to ~1e-4.
    double mx = 0;
    for (int64_t i = 0; i < k; ++i) mx = std::max(mx, std::fabs(double(xf[i]) * wf[i]));
    for (int64_t i = 0; i < k; ++i) {
      ++total;
      if (q[i] == qref[i]) continue;
      const double t = 127.0 * std::fabs(double(xf[i]) * wf[i]) / mx;
      EXPECT_EQ(std::abs(q[i] - qref[i]), 1);
      EXPECT_LT(std::fabs(t - std::floor(t) - 0.5), 2e-4) << "code " << i << " of " << k;
      ++flips;
    }
    // The scale max|u| / (127 s_w) against 1 / (s_x s_w): bound 1e-6 relative (docs/HARDWARE.md).
    const double want = 1.0 / (double(s_x) * s_w), got = from_scale(core.last_scale());
    worst_scale = std::max(worst_scale, std::fabs(got - want) / want);
  }
  std::printf("[ hw ] quant: %d of %d codes at a rounding boundary differ by one; scale rel err %.2e (bound 1e-6)\n",
              flips, total, worst_scale);
  EXPECT_LT(worst_scale, 1e-6);
}

// Exact ties: 127 |x| / max|x| = k + 1/2 must round away from zero (SPEC.md), whatever the
// reciprocal's rounding; and codes one ulp either side of a tie round to the near side.
TEST(HwNormQuant, QuantRoundsExactTiesAwayFromZero) {
  CoreSim core;
  const int64_t k = 256, unit = 4099;  // v24 integers: max|x| = 254 unit, x_i = (2c + 1) unit: 127 x_i / max = c + 1/2
  std::vector<int64_t> x(static_cast<size_t>(k));
  std::vector<int> want(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    const int64_t c = i % 127, sign = (i / 127) % 2 ? -1 : 1, nudge = (i % 3) - 1;  // tie, one below, one above
    x[i] = sign * ((2 * c + 1) * unit + nudge);
    // round half away from zero of 127 |x| / (254 unit) in exact integers
    want[i] = static_cast<int>(sign * ((2 * 127 * std::abs(x[i]) + 254 * unit) / (2 * 254 * unit)));
  }
  x[k - 1] = 254 * unit;
  want[k - 1] = 127;
  core.write_vectors(0, x);
  core.write_params(0, std::vector<int32_t>(static_cast<size_t>(k), 1 << 24));
  const auto id = identity(k);
  core.set_weights(pack_weights(id.data(), k, k));
  core.load_program({quant(0, 0, k), tmv(static_cast<uint16_t>(k), k, k, true), {.op = Op::End}});
  core.run();
  const auto q = core.read_vectors(static_cast<uint16_t>(k), k);
  for (int64_t i = 0; i < k; ++i) ASSERT_EQ(q[i], want[i]) << "element " << i << ", x " << x[i];
}

TEST(HwNormQuant, NormMatchesRmsNormFormula) {
  std::mt19937 rng(11);
  CoreSim core;
  double worst = 0;
  for (int trial = 0; trial < 4; ++trial) {
    const int64_t k = 128 << trial;
    std::normal_distribution<double> xd(0, std::pow(10.0, -1.0 + 0.5 * trial)), wd(0.8, 0.5);
    std::vector<double> x(static_cast<size_t>(k)), w(static_cast<size_t>(k));
    for (auto& v : x) v = xd(rng);
    for (auto& v : w) v = wd(rng);
    const auto xq = v24(x);
    const auto wq = p24(w);
    core.write_vectors(0, xq);
    core.write_params(0, wq);
    const auto dst = static_cast<uint16_t>(k);
    core.load_program({{.op = Op::Norm, .a = 0, .dst = dst, .p = 0, .k = static_cast<uint16_t>(k), .invk = inv_k_q32(k)},
                       {.op = Op::End}});
    core.run();
    const auto y = core.read_vectors(dst, k);
    double ms = 0;
    for (int64_t v : xq) ms += from_v24(v) * from_v24(v);
    const double r = 1.0 / std::sqrt(ms / k + 1e-6);
    for (int64_t i = 0; i < k; ++i) {
      const double want = from_v24(xq[i]) * from_p24(wq[i]) * r;
      // rounding to v24 (2^-25) plus the scale's relative error (< 1e-6)
      const double err = std::fabs(from_v24(y[i]) - want), bound = kV24 / 2 + std::fabs(want) * 1e-6;
      ASSERT_LE(err, bound) << "element " << i << " of " << k;
      worst = std::max(worst, err / bound);
    }
  }
  std::printf("[ hw ] norm: worst error %.2f of its bound (2^-25 + 1e-6 |y|)\n", worst);
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
constexpr double kSigmoidBound = 3.0e-6;  // sigmoid_pwl.sv

TEST(HwEltwise, SigmoidWithinTableBound) {
  // MLGRU with i = 0, h = 1, lb = 0 gives h' = sigmoid(f) through exact steps (mulq by 1 and by 0).
  CoreSim core;
  const int64_t n = 4096;
  std::vector<double> f(n);
  for (int64_t j = 0; j < n; ++j) f[j] = -20.0 + 40.0 * j / n + 0.5 / 64;  // segment midpoints
  core.write_vectors(0, std::vector<int64_t>(n, 0));
  core.write_vectors(n, v24(f));
  core.write_vectors(2 * n, std::vector<int64_t>(n, int64_t{1} << 24));
  core.write_params(0, std::vector<int32_t>(n, 0));
  core.load_program({{.op = Op::Mlgru, .a = 0, .b = n, .c = 2 * n, .p = 0, .k = n}, {.op = Op::End}});
  const int64_t cycles = core.run();
  const auto y = core.read_vectors(2 * n, n);
  double worst = 0;
  for (int64_t j = 0; j < n; ++j) worst = std::max(worst, std::fabs(from_v24(y[j]) - sigmoid(from_v24(to_v24(f[j])))));
  std::printf("[ hw ] sigmoid: max error %.2e over [-20, 20] (bound %.1e); %lld cycles for %lld elements\n", worst,
              kSigmoidBound, (long long)cycles, (long long)n);
  EXPECT_LE(worst, kSigmoidBound);
}

TEST(HwEltwise, MlgruSiluMulAddWithinFormatBounds) {
  std::mt19937 rng(3);
  CoreSim core;
  const int64_t n = 2048;
  std::normal_distribution<double> nd(0, 3);
  std::uniform_real_distribution<double> ud(0, 1);
  std::vector<double> a(n), b(n), h(n), lb(n);
  for (int64_t j = 0; j < n; ++j) {
    a[j] = nd(rng) * (j % 7 == 0 ? 4 : 1);
    b[j] = nd(rng);
    h[j] = nd(rng);
    lb[j] = ud(rng) * (j % 3 == 0 ? 0 : 1);
  }
  const auto aq = v24(a), bq = v24(b), hq = v24(h);
  const auto lq = p24(lb);
  const uint16_t A = 0, B = n, H = 2 * n, S = 3 * n, D = 4 * n;
  core.write_vectors(A, aq);
  core.write_vectors(B, bq);
  core.write_vectors(H, hq);
  core.write_params(0, lq);
  core.load_program({{.op = Op::SiluMul, .a = A, .b = B, .dst = S, .k = n},
                     {.op = Op::Add, .a = A, .b = B, .dst = D, .k = n},
                     {.op = Op::Mlgru, .a = A, .b = B, .c = H, .p = 0, .k = n},
                     {.op = Op::End}});
  core.run();
  const auto s = core.read_vectors(S, n), add = core.read_vectors(D, n), hn = core.read_vectors(H, n);
  const double r = kV24 / 2;  // one rounding of a v24 product
  double w_silu = 0, w_h = 0;
  for (int64_t j = 0; j < n; ++j) {
    const double x = from_v24(aq[j]), y = from_v24(bq[j]), h0 = from_v24(hq[j]), l = from_p24(lq[j]);
    ASSERT_EQ(add[j], aq[j] + bq[j]);
    const double silu = x * sigmoid(x), e_silu = std::fabs(x) * kSigmoidBound + r;
    const double bound_s = std::fabs(y) * e_silu + r;
    ASSERT_LE(std::fabs(from_v24(s[j]) - silu * y), bound_s) << "silu_mul " << j;
    w_silu = std::max(w_silu, std::fabs(from_v24(s[j]) - silu * y) / bound_s);
    // h' = f h + silu(a) (1 - f), f = l + (1 - l) sigmoid(b): each term's error from the bounds above
    const double f = l + (1 - l) * sigmoid(y), e_f = (1 - l) * kSigmoidBound + r;
    const double want = f * h0 + silu * (1 - f);
    const double bound_h = std::fabs(h0) * e_f + r + std::fabs(silu) * e_f + e_silu + r;
    ASSERT_LE(std::fabs(from_v24(hn[j]) - want), bound_h) << "mlgru " << j;
    w_h = std::max(w_h, std::fabs(from_v24(hn[j]) - want) / bound_h);
  }
  std::printf("[ hw ] silu_mul worst %.2f of bound, mlgru worst %.2f of bound\n", w_silu, w_h);
}

}  // namespace
}  // namespace mmfree::hw
