// The quantising row pass for many rows (row_kernel_many.cu: 256 rows or more, rows and strides a
// multiple of 4 floats) at the shapes training gives it: against the CPU reference (residual add,
// RMSNorm, quantiser and the kept rows bit for bit; the gated and GLU rows to the bounds CUDA's expf
// allows), and against elementwise.cu's row kernel for few rows, which must give the same bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "backend/cuda/elementwise.h"
#include "model/ops.h"
#include "quant_check.h"
#include "util/half.h"

namespace mmfree::cuda::test {
namespace {

enum class Kind { Plain, Gated, Glu };

// n rows of k: 370M's d (a warp per row), its GLU width I = 2816 (4 warps) and 8192 (8, the most).
constexpr std::pair<int64_t, int64_t> kShapes[] = {{512, 1024}, {300, 2816}, {256, 8192}};
constexpr float kEps = 1e-6f;

// One call's host inputs: Plain x (+ add, w_pre), Gated g (in x) and h with w_pre, Glu gv (in x).
struct Case {
  Kind kind;
  int64_t n, k, ld;
  int targets;
  bool add_and_pre;  // Plain: with the residual add and the pre-norm, else the quantiser alone
  std::vector<float> x, add, h, w_pre;
};

Case make_case(Kind kind, int64_t n, int64_t k, int targets, bool add_and_pre, uint32_t seed) {
  Case c{kind, n, k, kind == Kind::Glu ? 2 * k + 8 : k + 4, targets, add_and_pre, {}, {}, {}, {}};
  c.x = randn(n * c.ld, seed, 2.0f);
  c.add = randn(n * c.ld, seed + 1, 0.5f);
  c.h = randn(n * c.ld, seed + 2, 1.5f);
  c.w_pre = randn(k, seed + 3);
  std::fill(c.x.begin() + c.ld, c.x.begin() + 2 * c.ld, 0.0f);  // row 1 all zeros: amax clamps to 1e-5
  std::fill(c.add.begin() + c.ld, c.add.begin() + 2 * c.ld, 0.0f);
  return c;
}

// The case's device buffers and outputs; rows() runs the pass on some of its rows.
struct PassRun {
  DeviceBuffer<float> x, add, h, w_pre, keep_m, keep_x;
  Targets tg;
  PassRun(const Case& c, uint32_t seed)
      : x(to_device(c.x)), add(to_device(c.add)), h(to_device(c.h)), w_pre(to_device(c.w_pre)), keep_m(c.n * c.k),
        keep_x(c.n * c.k), tg(c.n, c.k, c.targets, seed, true) {
    keep_m.fill_bytes(0xff);
    keep_x.fill_bytes(0xff);
  }
  void rows(const Case& c, int64_t r0, int64_t count) {
    Stream s;
    const auto views = tg.views(r0);
    const RowKeep keep{keep_m.data() + r0 * c.k, keep_x.data() + r0 * c.k};
    float* xr = x.data() + r0 * c.ld;
    switch (c.kind) {
      case Kind::Plain:
        norm_quantize(xr, c.add_and_pre ? add.data() + r0 * c.ld : nullptr, c.ld, c.add_and_pre ? w_pre.data() : nullptr,
                      kEps, count, c.k, views, tg.stride, s.get(), keep);
        break;
      case Kind::Gated:
        gated_norm_quantize(xr, h.data() + r0 * c.ld, c.ld, w_pre.data(), kEps, count, c.k, views, tg.stride, s.get(), keep);
        break;
      case Kind::Glu: glu_quantize(xr, c.ld, count, c.k, views, tg.stride, s.get(), keep); break;
    }
    s.synchronize();
  }
};

// The CPU's m (Mlgru::forward, Glu::forward, rmsnorm_rows) and, for Plain, x after the add, [n][k].
struct CpuRows {
  std::vector<float> m, x;
};
CpuRows cpu_rows(const Case& c) {
  const int64_t n = c.n, k = c.k, ld = c.ld;
  CpuRows r{std::vector<float>(static_cast<size_t>(n * k)), std::vector<float>(static_cast<size_t>(n * k))};
  for (int64_t t = 0; t < n; ++t) {
    const float* x = c.x.data() + t * ld;
    float* m = r.m.data() + t * k;
    if (c.kind == Kind::Gated) {
      const float rstd = rms_rstd(x, k, kEps);
      for (int64_t j = 0; j < k; ++j) m[j] = siluf(c.h[t * ld + j]) * (x[j] * rstd * c.w_pre[j]);
    } else if (c.kind == Kind::Glu) {
      for (int64_t j = 0; j < k; ++j) m[j] = siluf(x[j]) * x[k + j];
    } else {
      for (int64_t j = 0; j < k; ++j) r.x[t * k + j] = c.add_and_pre ? x[j] + c.add[t * ld + j] : x[j];
    }
  }
  if (c.kind == Kind::Plain) {
    if (c.add_and_pre) rmsnorm_rows(r.x.data(), c.w_pre.data(), n, k, kEps, r.m.data());
    else r.m = r.x;
  }
  return r;
}

// The elements of two buffers whose bits differ.
template <class T>
int64_t bits_differing(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return -1;
  int64_t d = 0;
  for (size_t e = 0; e < a.size(); ++e) d += std::memcmp(&a[e], &b[e], sizeof(T)) != 0;
  return d;
}

// dequantized must be q / s_x rounded to bf16, from the codes and scale the pass wrote.
void expect_dequantized(Targets& tg, size_t j) {
  const auto q = to_host(tg.q[j]);
  const auto sc = to_host(tg.scale[j]);
  const auto dq = to_host(tg.dq[j]);
  int64_t wrong = 0;
  for (int64_t t = 0; t < tg.n; ++t)
    for (int64_t c = 0; c < tg.k; ++c)
      wrong += dq[t * tg.k + c] != f32_to_bf16(static_cast<float>(q[t * tg.stride + c]) / sc[t]);
  EXPECT_EQ(wrong, 0) << "target " << j;
}

using CudaManyRows = CudaTest;

TEST_F(CudaManyRows, PlainRowsMatchTheCpuExactly) {
  for (const auto& [n, k] : kShapes)
    for (int targets : {1, 2, 3, 4})
      for (bool add_and_pre : {true, false}) {
        if (k != 1024 && (targets == 2 || targets == 4)) continue;  // every target count at one shape
        SCOPED_TRACE(testing::Message() << n << " x " << k << ", " << targets << " targets" << (add_and_pre ? ", add + norm" : ""));
        const Case c = make_case(Kind::Plain, n, k, targets, add_and_pre, 100 + static_cast<uint32_t>(k));
        PassRun run(c, 200);
        run.rows(c, 0, n);
        const CpuRows want = cpu_rows(c);
        std::vector<float> x_want = c.x;  // with the add, x keeps the sum; without, it is only read
        for (int64_t t = 0; t < n; ++t) std::copy_n(want.x.begin() + t * k, k, x_want.begin() + t * c.ld);
        EXPECT_EQ(to_host(run.x), x_want);
        EXPECT_EQ(to_host(run.keep_x), want.x);
        EXPECT_EQ(to_host(run.keep_m), want.m);
        for (size_t j = 0; j < static_cast<size_t>(targets); ++j) {
          const Quantised q = cpu_quantise(want.m, run.tg.w[j], n, k, run.tg.stride);
          EXPECT_EQ(to_host(run.tg.q[j]), q.q) << "target " << j;
          EXPECT_EQ(to_host(run.tg.scale[j]), q.scale) << "target " << j;
          EXPECT_EQ(to_host(run.tg.sums[j]), q.sums) << "target " << j;
          expect_dequantized(run.tg, j);
        }
      }
}

// m carries CUDA's expf: exp within 2 + 1 ulp of the CPU's, then 1 + e, the division, and the
// product each round once on either side: m within 6 ulp (6 * 2^-23 relative) of the CPU's.
TEST_F(CudaManyRows, GatedAndGluRowsWithinExpBounds) {
  for (Kind kind : {Kind::Gated, Kind::Glu})
    for (const auto& [n, k] : kShapes)
      for (int targets : {1, 3}) {
        const char* name = kind == Kind::Gated ? "gated" : "glu";
        SCOPED_TRACE(testing::Message() << name << " " << n << " x " << k << ", " << targets << " targets");
        const Case c = make_case(kind, n, k, targets, false, 300 + static_cast<uint32_t>(k));
        PassRun run(c, 400);
        run.rows(c, 0, n);
        const CpuRows want = cpu_rows(c);
        EXPECT_EQ(to_host(run.x), c.x);  // only read
        const auto m = to_host(run.keep_m);
        double max_rel = 0;
        for (size_t e = 0; e < m.size(); ++e)
          if (want.m[e] != 0.0f || m[e] != 0.0f)
            max_rel = std::max(max_rel, std::fabs(double(m[e]) - want.m[e]) / std::fabs(double(want.m[e])));
        std::printf("%s %lld x %lld: kept m max rel diff %.2e\n", name, static_cast<long long>(n), static_cast<long long>(k),
                    max_rel);
        EXPECT_LE(max_rel, 6.0 * std::ldexp(1.0, -23));
        for (size_t j = 0; j < static_cast<size_t>(targets); ++j) {
          expect_within_exp_bounds(compare(run.tg, j, cpu_quantise(want.m, run.tg.w[j], n, k, run.tg.stride)), name);
          expect_dequantized(run.tg, j);
        }
      }
}

// The same rows through the many-row kernel (all at once) and the few-row one (128 at a time):
// every output the same bits. Only the double sums of squares are added in another order, which
// changes a float rstd only if the sum lies within ~1e-16 of a float rounding boundary.
TEST_F(CudaManyRows, SameBitsAsTheFewRowKernel) {
  const int64_t few = 128;
  for (Kind kind : {Kind::Plain, Kind::Gated, Kind::Glu})
    for (const auto& [n, k] : kShapes) {
      SCOPED_TRACE(testing::Message() << "kind " << static_cast<int>(kind) << ", " << n << " x " << k);
      const Case c = make_case(kind, n, k, 3, true, 500 + static_cast<uint32_t>(k));
      PassRun many(c, 600), by_few(c, 600);
      many.rows(c, 0, n);
      for (int64_t r0 = 0; r0 < n; r0 += few) by_few.rows(c, r0, std::min(few, n - r0));
      EXPECT_EQ(bits_differing(to_host(many.x), to_host(by_few.x)), 0);
      EXPECT_EQ(bits_differing(to_host(many.keep_m), to_host(by_few.keep_m)), 0);
      EXPECT_EQ(bits_differing(to_host(many.keep_x), to_host(by_few.keep_x)), 0);
      for (size_t j = 0; j < 3; ++j) {
        EXPECT_EQ(bits_differing(to_host(many.tg.q[j]), to_host(by_few.tg.q[j])), 0) << "target " << j;
        EXPECT_EQ(bits_differing(to_host(many.tg.scale[j]), to_host(by_few.tg.scale[j])), 0) << "target " << j;
        EXPECT_EQ(bits_differing(to_host(many.tg.sums[j]), to_host(by_few.tg.sums[j])), 0) << "target " << j;
        EXPECT_EQ(bits_differing(to_host(many.tg.dq[j]), to_host(by_few.tg.dq[j])), 0) << "target " << j;
      }
    }
}

// Training's bf16 backward (cuda_train.cpp quantize) reads only q / s_x in bf16: with q and sums
// null the pass writes that and s_x, the same bits as the full pass's, and nothing else. At the 1.3B
// model's d and I (many rows: row_kernel_many.cu's dequantised-only kernel) and at few rows (the
// row kernel); row 1 all zeros (amax clamped to 1e-5), row 2 scaled past 127 * 2^64 (s_x below
// 2^-64: the division instead of scaled_quotient's sequence).
TEST_F(CudaManyRows, DequantisedOnlyGivesTheFullPassBits) {
  constexpr std::pair<int64_t, int64_t> shapes[] = {{8192, 2048}, {300, 5632}, {100, 2048}};
  for (const auto& [n, k] : shapes) {
    SCOPED_TRACE(testing::Message() << n << " x " << k);
    std::vector<float> m = randn(n * k, 700 + static_cast<uint32_t>(k), 2.0f);
    std::fill(m.begin() + k, m.begin() + 2 * k, 0.0f);
    for (int64_t c = 0; c < k; ++c) m[2 * k + c] *= 1e25f;
    DeviceBuffer<float> x = to_device(m);
    Targets full(n, k, 1, 800, true), only(n, k, 1, 800, true);
    only.sums[0].fill_bytes(0x77);
    std::vector<QuantTarget> views = only.views();
    views[0].q = nullptr;
    views[0].sums = nullptr;
    Stream s;
    norm_quantize(x.data(), nullptr, k, nullptr, kEps, n, k, full.views(), full.stride, s.get());
    norm_quantize(x.data(), nullptr, k, nullptr, kEps, n, k, views, only.stride, s.get());
    s.synchronize();
    EXPECT_EQ(to_host(x), m);  // only read
    expect_dequantized(full, 0);
    EXPECT_EQ(bits_differing(to_host(only.dq[0]), to_host(full.dq[0])), 0);
    EXPECT_EQ(bits_differing(to_host(only.scale[0]), to_host(full.scale[0])), 0);
    const auto q = to_host(only.q[0]);
    const auto sums = to_host(only.sums[0]);
    EXPECT_EQ(std::count(q.begin(), q.end(), int8_t{0x55}), static_cast<std::ptrdiff_t>(q.size())) << "q written";
    EXPECT_EQ(std::count(sums.begin(), sums.end(), 0x77777777), static_cast<std::ptrdiff_t>(sums.size())) << "sums written";
  }
}

}  // namespace
}  // namespace mmfree::cuda::test
