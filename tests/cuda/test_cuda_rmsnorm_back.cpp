// rmsnorm_backward (train_kernels.cu) at training's shapes, many rows: dx against the ref backend's,
// dw against the exact sum of the CPU's float terms within the bound its float additions allow, and
// two runs giving the same bits (bit-exact resume depends on it).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "backend/cuda/train_kernels.h"
#include "backend/ref/ref_backend.h"
#include "cuda_test_util.h"
#include "model/ops.h"

namespace mmfree::cuda::test {
namespace {

constexpr float kEps = 1e-6f;

struct Shape {
  int64_t n, k;
};
// 370M's d (one 16-byte chunk a thread) and its GLU width I (3 chunks) at training's row counts; 1.3B's d
// (2 chunks) at its 8192 rows (parts of 32 rows) and at 512 (parts of 2); its I (6 chunks) at 1000
// rows (parts of 4, as the LM head's chunks); 2.7B's I (7 chunks) at 300 rows (parts of 2, the last
// of 1 row); parts of 1 row (77, 33); rows too long for the streaming kernel (9000).
constexpr Shape kShapes[] = {{16384, 1024}, {2048, 2816}, {8192, 2048}, {512, 2048}, {1000, 5632},
                             {300, 6912},   {77, 1000},   {33, 2048},   {40, 9000}};

struct Result {
  std::vector<float> dx, dw;
};

Result on_device(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& dy,
                 const std::vector<float>& dx0, const std::vector<float>& dw0, Shape s, bool accumulate) {
  const auto xd = to_device(x), wd = to_device(w), dyd = to_device(dy);
  auto dxd = to_device(dx0), dwd = to_device(dw0);
  DeviceBuffer<float> rstd(s.n), partial(row_parts(s.n) * s.k);
  Stream st;
  rmsnorm_backward(xd.data(), wd.data(), dyd.data(), s.n, s.k, kEps, dxd.data(), accumulate, dwd.data(), rstd.data(),
                   partial.data(), st.get());
  st.synchronize();
  return {to_host(dxd), to_host(dwd)};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The scratch of row_parts(n) partial rows is sized once, for the most rows a trainer takes: a call
// with fewer rows (the LM head's chunks) must need no more parts, and no part may exceed kPartRows
// rows (the dw bound below counts on both). Host arithmetic only: runs without a GPU.
TEST(CudaRmsnormParts, PartsFitTheScratchOfAnyLargerRowCount) {
  int64_t most = 0;
  for (int64_t n = 1; n <= 40000; ++n) {
    const int64_t rows = part_rows(n), parts = (n + rows - 1) / rows;
    ASSERT_GE(rows, 1) << n;
    ASSERT_LE(rows, kPartRows) << n;
    ASSERT_LE(parts, row_parts(n)) << n;
    ASSERT_GE(row_parts(n), most) << n << ": fewer parts than for fewer rows";
    most = row_parts(n);
  }
  EXPECT_EQ(part_rows(8192), kPartRows);  // training's many rows: parts of 32
  EXPECT_GE((1040 + part_rows(1040) - 1) / part_rows(1040), 200);  // an LM head chunk: enough blocks
}

using CudaRmsnormBackward = CudaTest;

// dx: each element's float operations are the CPU's, so dx equals ref's bit for bit unless a row's
// float rstd or c = float(dot / k) rounds otherwise. Their double sums are added in another order,
// which moves a sum by at most k 2^-53 of its terms' magnitudes: relative to the sum, 1.1e-13 for
// the squares at k = 1024 and about sqrt(k) times that for the dot, whose terms cancel (3.6e-12).
// The float changes only if the sum lies that close to a rounding boundary (spacing 2^-24 = 6e-8):
// at worst a chance of about 1.2e-4 a row, 2 rows of 16,384; errors that add like a random walk make
// it some 30 times less, 0.07 rows (measured on an H200 with session 7's kernel: 0 rows at every shape).
// Such a row (at most 2 allowed) moves by an ulp of rstd and of c: normwise within 1e-6 (two ulps
// of 2^-24 on each term, three roundings: ~4e-7).
// dw = dw0 + the sum of the CPU's float terms dy * (x * rstd), compared with that sum in double: a
// term passes through at most L float additions (within its part of at most kPartRows rows: 32 +
// 1; add_parts: ceil(parts / 8) in a sum, then its 8 sums; 2 more for a term's own roundings if its
// row's rstd is off by an ulp; parts <= row_parts(n)), so |error| <= L 2^-24 (|dw0| + sum |terms|) a
// column (L = 48 to 107 here).
TEST_F(CudaRmsnormBackward, ManyRowsMatchTheCpuWithinBoundsAndRepeatBitForBit) {
  for (const Shape s : kShapes)
    for (bool accumulate : {false, true}) {
      SCOPED_TRACE(testing::Message() << s.n << " x " << s.k << (accumulate ? ", accumulate" : ""));
      const uint32_t seed = static_cast<uint32_t>(s.k + (accumulate ? 7 : 0));
      const auto x = randn(s.n * s.k, seed, 3.0f), w = randn(s.k, seed + 1), dy = randn(s.n * s.k, seed + 2),
                 dx0 = randn(s.n * s.k, seed + 3), dw0 = randn(s.k, seed + 4, 5.0f);
      const Result got = on_device(x, w, dy, dx0, dw0, s, accumulate);
      const Result again = on_device(x, w, dy, dx0, dw0, s, accumulate);
      EXPECT_TRUE(same_bits(got.dx, again.dx)) << "dx differs between two runs";
      EXPECT_TRUE(same_bits(got.dw, again.dw)) << "dw differs between two runs";

      RefBackend ref;
      ref.reserve_training(1, s.k);
      std::vector<float> want_dx = dx0, ref_dw = dw0, xr = x, wr = w, dyr = dy;
      ref.rmsnorm_backward(xr.data(), wr.data(), dyr.data(), s.n, s.k, kEps, want_dx.data(), accumulate, ref_dw.data());
      int64_t rows_differing = 0;
      for (int64_t t = 0; t < s.n; ++t) {
        const size_t b = static_cast<size_t>(t * s.k), e = b + static_cast<size_t>(s.k);
        if (std::memcmp(got.dx.data() + b, want_dx.data() + b, static_cast<size_t>(s.k) * sizeof(float)) == 0) continue;
        ++rows_differing;
        double diff = 0, norm = 0;
        for (size_t i = b; i < e; ++i) {
          diff += std::pow(double(got.dx[i]) - want_dx[i], 2);
          norm += std::pow(double(want_dx[i]), 2);
        }
        EXPECT_LE(std::sqrt(diff / norm), 1e-6) << "dx row " << t;
      }
      EXPECT_LE(rows_differing, 2);

      std::vector<double> exact(dw0.begin(), dw0.end()), scale(static_cast<size_t>(s.k));
      for (int64_t c = 0; c < s.k; ++c) scale[c] = std::fabs(double(dw0[c]));
      for (int64_t t = 0; t < s.n; ++t) {
        const float rstd = rms_rstd(x.data() + t * s.k, s.k, kEps);
        for (int64_t c = 0; c < s.k; ++c) {
          const size_t i = static_cast<size_t>(t * s.k + c);
          const float term = dy[i] * (x[i] * rstd);
          exact[c] += term;
          scale[c] += std::fabs(double(term));
        }
      }
      const double L = kPartRows + 1 + static_cast<double>((row_parts(s.n) + 7) / 8) + 8 + 2, u = std::ldexp(1.0, -24);
      double worst = 0;  // the largest |error| / (u * scale) of a column
      for (int64_t c = 0; c < s.k; ++c) worst = std::max(worst, std::fabs(got.dw[c] - exact[c]) / (u * scale[c]));
      std::printf("rmsnorm_backward %lld x %lld%s: dx rows differing from ref %lld; dw worst error %.2f u x scale (bound %.0f)\n",
                  static_cast<long long>(s.n), static_cast<long long>(s.k), accumulate ? " accumulate" : "",
                  static_cast<long long>(rows_differing), worst, L);
      EXPECT_LE(worst, L);
    }
}

}  // namespace
}  // namespace mmfree::cuda::test
