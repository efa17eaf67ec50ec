// The CUDA ternary products against ternary_matmul_ref: int32 sums bit for bit, and BitLinear's
// scaled output with the CPU's float operations, also bit for bit; the mma16 packing against the
// formats the model files store.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>

#include "backend/cuda/mma_layout.h"
#include "backend/cuda/mma_relayout.h"
#include "backend/cuda/ternary_product.h"
#include "cuda_test_util.h"
#include "kernels/ternary_ref.h"

namespace mmfree::cuda::test {
namespace {

TEST(CudaMmaLayout, PackingFromEveryStoredFormatIsTheSame) {
  // Host only (no GPU needed): 37 rows (a partial tile and a partial TQ2_0_R8 group) x 512.
  const int64_t rows = 37, cols = 512;
  const auto t = random_ternary(rows * cols, 5);
  std::vector<uint8_t> want(static_cast<size_t>(mma_bytes(rows, cols)));
  pack_mma(t.data(), rows, cols, want.data());
  for (TernaryFormat f : {TernaryFormat::I8, TernaryFormat::TQ2_0, TernaryFormat::TQ1_0, TernaryFormat::TQ2_0_R8}) {
    const std::vector<uint8_t> stored = pack_ternary(f, t.data(), rows, cols, 1.0f);
    EXPECT_EQ(pack_mma(TernaryMatrix{f, stored.data(), rows, cols}), want) << format_name(f);
  }
  EXPECT_EQ(mma_bytes(rows, cols), 3 * 4 * 512);  // 3 row tiles x 4 column units x 512 bytes
  const int8_t bad[2] = {0, 2};
  std::vector<uint8_t> out(static_cast<size_t>(mma_bytes(1, 2)));
  EXPECT_THROW(pack_mma(bad, 1, 2, out.data()), Error);
  EXPECT_THROW(mma_bytes(0, 5), Error);
}

using CudaRelayout = CudaTest;

TEST_F(CudaRelayout, DeviceRearrangementOfTq2R8EqualsTheHostPacking) {
  // Partial row tiles and TQ2_0_R8 groups (37, 8 + 3), one whole group, several blocks per row.
  const std::pair<int64_t, int64_t> shapes[] = {{37, 512}, {8, 256}, {11, 768}, {300, 1024}, {64, 2560}};
  Stream s;
  for (const auto& [rows, cols] : shapes) {
    const auto t = random_ternary(rows * cols, static_cast<uint32_t>(rows + cols));
    const std::vector<uint8_t> stored = pack_ternary(TernaryFormat::TQ2_0_R8, t.data(), rows, cols, 1.0f);
    DeviceBuffer<uint8_t> src = to_device(stored), dst(mma_bytes(rows, cols));
    dst.fill_bytes(0xa5);  // every byte must be written
    relayout_tq2_r8(src.data(), rows, cols, dst.data(), s.get());
    s.synchronize();
    std::vector<uint8_t> want(static_cast<size_t>(mma_bytes(rows, cols)));
    pack_mma(t.data(), rows, cols, want.data());
    EXPECT_EQ(to_host(dst), want) << rows << " x " << cols;
  }
  DeviceBuffer<uint8_t> any(1024);
  EXPECT_THROW(relayout_tq2_r8(any.data(), 4, 128, any.data(), s.get()), Error);  // 128 columns: not whole blocks
}

// One product's inputs on the host and the device.
struct Case {
  int64_t rows, cols, n, stride;
  std::vector<int8_t> w, q;  // q dense [n][cols]
  std::vector<int32_t> sums, want;
  std::vector<float> scale;
  float w_scale;
  DeviceBuffer<uint8_t> d_w;
  DeviceBuffer<int8_t> d_q;
  DeviceBuffer<int32_t> d_sums;
  DeviceBuffer<float> d_scale;

  Case(int64_t rows_, int64_t cols_, int64_t n_, uint32_t seed) : rows(rows_), cols(cols_), n(n_) {
    stride = padded_cols(cols) + 16;
    w = random_ternary(rows * cols, seed);
    std::mt19937 rng(seed + 1);
    q.resize(static_cast<size_t>(n * cols));
    for (auto& v : q) v = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
    // Padding past cols holds junk: the padded weights' code 0 must keep it out of every sum.
    std::vector<int8_t> q_padded(static_cast<size_t>(n * stride), 77);
    sums.assign(static_cast<size_t>(n), 0);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < cols; ++c) {
        q_padded[t * stride + c] = q[t * cols + c];
        sums[t] += q[t * cols + c];
      }
    want.resize(static_cast<size_t>(n * rows));
    ternary_matmul_ref(w.data(), rows, cols, q.data(), n, want.data());
    scale = randn(n, seed + 2);
    for (auto& s : scale) s = 20.0f + std::fabs(s) * 50.0f;
    w_scale = 1.37f;
    std::vector<uint8_t> packed(static_cast<size_t>(mma_bytes(rows, cols)));
    pack_mma(w.data(), rows, cols, packed.data());
    d_w = to_device(packed);
    d_q = to_device(q_padded);
    d_sums = to_device(sums);
    d_scale = to_device(scale);
  }
  DeviceActivations x() const { return {d_q.data(), stride, d_sums.data(), d_scale.data(), n, cols}; }
  DeviceTernary weights() const { return {d_w.data(), rows, cols}; }
  // BitLinear's output as the CPU computes it (kernels/ternary_kernels.h store_result).
  std::vector<float> want_y(int64_t ld) const {
    std::vector<float> y(static_cast<size_t>(n * ld), 0.0f);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t o = 0; o < rows; ++o)
        y[t * ld + o] = static_cast<float>(want[t * rows + o]) / (scale[t] * w_scale);
    return y;
  }
};

constexpr int32_t kPoison = 0x7f7f7f7f;  // no sum reaches it (|sum| <= 128 * cols)

using CudaProduct = CudaTest;

TEST_F(CudaProduct, IntegerSumsAndScaledOutputsMatchTheReferenceExactly) {
  struct Shape {
    int64_t rows, cols, n;
  };
  const Shape shapes[] = {{1, 1, 1},       {17, 300, 1},    {33, 256, 3},    {100, 1000, 7},  {64, 2560, 8},
                          {40, 384, 9},    {31, 640, 16},   {130, 640, 17},  {48, 1152, 33}, {300, 1152, 65},
                          {257, 768, 130}, {2560, 2560, 1}, {96, 6912, 4},   {16, 128, 33},  {47, 2560, 200}};
  Stream s;
  for (const Shape& sh : shapes) {
    SCOPED_TRACE(testing::Message() << sh.rows << " x " << sh.cols << ", n " << sh.n);
    Case c(sh.rows, sh.cols, sh.n, static_cast<uint32_t>(sh.rows * 7 + sh.cols + sh.n));
    const int64_t ld = sh.rows + 3;  // columns past rows must stay untouched
    std::vector<ProductTuning> tunings;
    for (int kw : {0, 1, 2, 4, 8, 16})
      if (sh.n <= 32 || kw <= 8) tunings.push_back({kw, 0});  // past 32 tokens: at most 8 warps per strip
    if (sh.n > 32) tunings.push_back({0, 32});
    tunings.push_back({0, 0, ProductPath::Warp});
    if (tiled_product_available()) tunings.push_back({0, 0, ProductPath::Tiled});  // any n: a partial block of 128 tokens
    for (const ProductTuning tuning : tunings) {
      SCOPED_TRACE(testing::Message() << "k_warps " << tuning.k_warps << ", warp_tokens " << tuning.warp_tokens << ", path "
                                      << static_cast<int>(tuning.path));
      DeviceBuffer<int32_t> acc(sh.n * ld);
      acc.fill_bytes(0x7f);
      const Product p{c.weights(), c.x(), ProductOut{acc.data(), nullptr, ld, 1.0f}};
      ternary_product({&p, 1}, s.get(), tuning);
      s.synchronize();
      const auto got = to_host(acc);
      for (int64_t t = 0; t < sh.n; ++t) {
        for (int64_t o = 0; o < sh.rows; ++o)
          ASSERT_EQ(got[t * ld + o], c.want[t * sh.rows + o]) << "token " << t << " row " << o;
        for (int64_t o = sh.rows; o < ld; ++o) ASSERT_EQ(got[t * ld + o], kPoison) << "token " << t << " pad " << o;
      }
    }
    DeviceBuffer<float> y(sh.n * ld);
    y.fill_bytes(0);
    const Product p{c.weights(), c.x(), ProductOut{nullptr, y.data(), ld, c.w_scale}};
    ternary_product({&p, 1}, s.get());
    s.synchronize();
    const auto got = to_host(y), want = c.want_y(ld);
    ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0) << "scaled outputs differ";
  }
}

TEST_F(CudaProduct, ExtremeSumsDoNotOverflow) {
  // Every weight +1 or -1 by rows, every activation -128: |sum| = 128 * 6912 = 884736.
  const int64_t rows = 32, cols = 6912, n = 2;
  Case c(rows, cols, n, 3);
  std::vector<int8_t> w(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k) w[r * cols + k] = r % 2 ? 1 : -1;
  std::vector<uint8_t> packed(static_cast<size_t>(mma_bytes(rows, cols)));
  pack_mma(w.data(), rows, cols, packed.data());
  c.d_w = to_device(packed);
  std::vector<int8_t> q(static_cast<size_t>(n * c.stride), -128);
  c.d_q = to_device(q);
  c.d_sums = to_device(std::vector<int32_t>(n, -128 * static_cast<int32_t>(cols)));
  DeviceBuffer<int32_t> acc(n * rows);
  Stream s;
  const Product p{c.weights(), c.x(), ProductOut{acc.data(), nullptr, rows, 1.0f}};
  ternary_product({&p, 1}, s.get());
  s.synchronize();
  const auto got = to_host(acc);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(got[t * rows + r], (r % 2 ? -128 : 128) * cols);
}

// The tiled path (blocks of 8 row tiles x 128 tokens, 128 columns a pipeline stage): partial row
// blocks and tiles, partial token blocks, fewer units than pipeline stages, padded columns, the
// token count where ternary_product() may start taking it on its own, several products per launch.
TEST_F(CudaProduct, TiledPathMatchesTheReferenceExactly) {
  if (!tiled_product_available()) GTEST_SKIP() << "the tiled path runs on Hopper GPUs only";
  struct Shape {
    int64_t rows[3], cols, n;
  };
  const Shape shapes[] = {
      {{300, 0, 0}, 1000, 257},                   // 19 tiles (the last partial), 3 token blocks (the last 1 token)
      {{16, 0, 0}, 128, kTiledMinTokens},         // one unit: the pipeline never fills
      {{129, 0, 0}, 256, kTiledMinTokens + 1},    // n just past the threshold (auto: too few blocks, warp path)
      {{1024, 0, 0}, 2816, 384},                  // the 370M down projection's shape, 22 units
      {{2816, 2816, 0}, 1024, 200},               // gate and up in one launch
      {{128, 40, 1024}, 640, 129},                // i, f, g with unequal rows: blocks end at each product's rows
  };
  Stream s;
  for (const Shape& sh : shapes) {
    std::vector<std::unique_ptr<Case>> cases;
    for (int i = 0; i < 3 && sh.rows[i] > 0; ++i)
      cases.push_back(std::make_unique<Case>(sh.rows[i], sh.cols, sh.n, static_cast<uint32_t>(sh.rows[i] + sh.n + i)));
    for (const ProductPath path : {ProductPath::Tiled, ProductPath::Auto}) {
      SCOPED_TRACE(testing::Message() << cases.size() << " x " << sh.rows[0] << " x " << sh.cols << ", n " << sh.n
                                      << ", path " << static_cast<int>(path));
      std::vector<DeviceBuffer<int32_t>> acc;
      std::vector<DeviceBuffer<float>> y;
      std::vector<Product> ps, ys;
      for (const auto& c : cases) {
        const int64_t ld = c->rows + 5;  // columns past rows must stay untouched
        acc.emplace_back(sh.n * ld);
        acc.back().fill_bytes(0x7f);
        y.emplace_back(sh.n * ld);
        y.back().fill_bytes(0);
        ps.push_back({c->weights(), c->x(), ProductOut{acc.back().data(), nullptr, ld, 1.0f}});
        ys.push_back({c->weights(), c->x(), ProductOut{nullptr, y.back().data(), ld, c->w_scale}});
      }
      ternary_product(ps, s.get(), {0, 0, path});
      ternary_product(ys, s.get(), {0, 0, path});
      s.synchronize();
      for (size_t i = 0; i < cases.size(); ++i) {
        const Case& c = *cases[i];
        const int64_t ld = c.rows + 5;
        const auto got = to_host(acc[i]);
        for (int64_t t = 0; t < sh.n; ++t) {
          for (int64_t o = 0; o < c.rows; ++o)
            ASSERT_EQ(got[t * ld + o], c.want[t * c.rows + o]) << "product " << i << " token " << t << " row " << o;
          for (int64_t o = c.rows; o < ld; ++o) ASSERT_EQ(got[t * ld + o], kPoison) << "token " << t << " pad " << o;
        }
        const auto got_y = to_host(y[i]), want_y = c.want_y(ld);
        ASSERT_EQ(std::memcmp(got_y.data(), want_y.data(), got_y.size() * sizeof(float)), 0) << "product " << i;
      }
    }
  }
}

TEST_F(CudaProduct, TiledPathExtremeSumsAreExact) {
  if (!tiled_product_available()) GTEST_SKIP() << "the tiled path runs on Hopper GPUs only";
  // Every weight +1 and every activation -128 or +127: sums of code * q reach 2 * 128 * 6912 =
  // 1769472 in magnitude before the sum of q is taken off; exact in int32.
  const int64_t rows = 40, cols = 6912, n = 300;
  Case c(rows, cols, n, 4);
  std::vector<int8_t> w(static_cast<size_t>(rows * cols), 1);
  std::vector<uint8_t> packed(static_cast<size_t>(mma_bytes(rows, cols)));
  pack_mma(w.data(), rows, cols, packed.data());
  c.d_w = to_device(packed);
  std::vector<int8_t> q(static_cast<size_t>(n * c.stride));
  std::vector<int32_t> sums(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    const int8_t v = t % 2 ? 127 : -128;
    std::fill_n(q.begin() + t * c.stride, c.stride, v);  // the padding too: code 0 keeps it out
    sums[static_cast<size_t>(t)] = v * static_cast<int32_t>(cols);
  }
  c.d_q = to_device(q);
  c.d_sums = to_device(sums);
  DeviceBuffer<int32_t> acc(n * rows);
  DeviceBuffer<float> y(n * rows);
  Stream s;
  const Product p{c.weights(), c.x(), ProductOut{acc.data(), nullptr, rows, 1.0f}};
  const Product py{c.weights(), c.x(), ProductOut{nullptr, y.data(), rows, c.w_scale}};
  ternary_product({&p, 1}, s.get(), {0, 0, ProductPath::Tiled});
  ternary_product({&py, 1}, s.get(), {0, 0, ProductPath::Tiled});
  s.synchronize();
  const auto got = to_host(acc);
  const auto got_y = to_host(y);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t sum = (t % 2 ? 127 : -128) * static_cast<int32_t>(cols);
      ASSERT_EQ(got[t * rows + r], sum) << t << " " << r;
      const float want = static_cast<float>(sum) / (c.scale[static_cast<size_t>(t)] * c.w_scale);
      ASSERT_EQ(std::memcmp(&got_y[t * rows + r], &want, 4), 0) << t << " " << r;
    }
}

// The tiled epilogue writes a token's rows 16 bytes at a time where the output allows it: ld a
// multiple of 4 and the pointer 16-byte aligned; otherwise, and for the rows past the last whole
// 4, 4 bytes at a time. Every combination, with rows past the matrix's left untouched.
TEST_F(CudaProduct, TiledPathWritesEveryOutputAlignment) {
  if (!tiled_product_available()) GTEST_SKIP() << "the tiled path runs on Hopper GPUs only";
  Stream s;
  for (const int64_t rows : {int64_t{1024}, int64_t{300}, int64_t{129}, int64_t{130}}) {
    Case c(rows, 384, 257, static_cast<uint32_t>(rows));
    const int64_t whole = (rows + 3) / 4 * 4;
    for (const int64_t ld : {whole, whole + 4, rows + 1})
      for (const int64_t offset : {0, 1, 4}) {
        SCOPED_TRACE(testing::Message() << rows << " rows, ld " << ld << ", offset " << offset);
        const int64_t size = c.n * ld + offset;
        DeviceBuffer<int32_t> acc(size);
        DeviceBuffer<float> y(size);
        acc.fill_bytes(0x7f);
        y.fill_bytes(0x7f);
        const Product p{c.weights(), c.x(), ProductOut{acc.data() + offset, nullptr, ld, 1.0f}};
        const Product py{c.weights(), c.x(), ProductOut{nullptr, y.data() + offset, ld, c.w_scale}};
        ternary_product({&p, 1}, s.get(), {0, 0, ProductPath::Tiled});
        ternary_product({&py, 1}, s.get(), {0, 0, ProductPath::Tiled});
        s.synchronize();
        const auto got = to_host(acc);
        const auto got_y = to_host(y);
        const auto want_y = c.want_y(ld);
        for (int64_t i = 0; i < offset; ++i) ASSERT_EQ(got[i], kPoison) << "before the output";
        for (int64_t t = 0; t < c.n; ++t)
          for (int64_t o = 0; o < ld; ++o) {
            const int64_t at = offset + t * ld + o;
            if (o < rows) {
              ASSERT_EQ(got[at], c.want[t * rows + o]) << "token " << t << " row " << o;
              ASSERT_EQ(std::memcmp(&got_y[at], &want_y[t * ld + o], 4), 0) << "token " << t << " row " << o;
            } else {
              ASSERT_EQ(got[at], kPoison) << "token " << t << " pad " << o;
              ASSERT_EQ(std::memcmp(&got_y[at], &kPoison, 4), 0) << "token " << t << " pad " << o;
            }
          }
      }
  }
}

// The tiled epilogue scales by a reciprocal formed once per token (scaled_quotient.h) where
// s_x * s_w lies in [2^-64, 2^64], and divides elsewhere: both against the CPU's float division,
// for s_x at and past both ends, zero, subnormal, negative, infinite and NaN.
TEST_F(CudaProduct, TiledPathScalesEveryTokenAsTheCpuDivides) {
  if (!tiled_product_available()) GTEST_SKIP() << "the tiled path runs on Hopper GPUs only";
  const float inf = std::numeric_limits<float>::infinity();
  const float w_scale = 0.75f;
  const float edge[] = {0x1p-64f / w_scale, 0x1p64f / w_scale, 0x1p-64f, 0x1p64f, std::nextafter(0x1p-64f / w_scale, 0.0f),
                        std::nextafter(0x1p64f / w_scale, inf), 0.0f, -0.0f, 1e-40f, 1e-30f, 1e30f, -3.0f, inf, -inf,
                        std::numeric_limits<float>::quiet_NaN(), 1.0f};
  Case c(200, 512, 300, 5);
  c.w_scale = w_scale;
  for (int64_t t = 0; t < c.n; ++t)
    if (t % 3 == 0) c.scale[static_cast<size_t>(t)] = edge[static_cast<size_t>(t / 3) % std::size(edge)];
  c.d_scale = to_device(c.scale);
  DeviceBuffer<float> y(c.n * c.rows);
  Stream s;
  const Product p{c.weights(), c.x(), ProductOut{nullptr, y.data(), c.rows, c.w_scale}};
  ternary_product({&p, 1}, s.get(), {0, 0, ProductPath::Tiled});
  s.synchronize();
  const auto got = to_host(y), want = c.want_y(c.rows);
  for (int64_t t = 0; t < c.n; ++t)
    for (int64_t o = 0; o < c.rows; ++o) {
      const float g = got[t * c.rows + o], w = want[t * c.rows + o];
      if (std::isnan(w)) ASSERT_TRUE(std::isnan(g)) << "token " << t << " row " << o;  // NaN's bits differ by device
      else ASSERT_EQ(std::memcmp(&g, &w, 4), 0) << "token " << t << " (s_x " << c.scale[t] << ") row " << o << ": " << g << " vs " << w;
    }
}

TEST_F(CudaProduct, SeveralProductsInOneLaunchEqualOneEach) {
  // As the MLGRU's i, f, g: three matrices, each with its own activations, one token count.
  for (int64_t n : {1, 5, 40}) {
    Case a(2560 / 8, 512, n, 11), b(33, 512, n, 12), c(100, 512, n, 13);
    Stream s;
    DeviceBuffer<int32_t> ya(n * a.rows), yb(n * b.rows), yc(n * c.rows);
    for (auto* buf : {&ya, &yb, &yc}) buf->fill_bytes(0x7f);
    const Product ps[] = {{a.weights(), a.x(), {ya.data(), nullptr, a.rows, 1}},
                          {b.weights(), b.x(), {yb.data(), nullptr, b.rows, 1}},
                          {c.weights(), c.x(), {yc.data(), nullptr, c.rows, 1}}};
    ternary_product(ps, s.get());
    s.synchronize();
    EXPECT_EQ(to_host(ya), a.want) << "n " << n;
    EXPECT_EQ(to_host(yb), b.want) << "n " << n;
    EXPECT_EQ(to_host(yc), c.want) << "n " << n;
  }
}

TEST_F(CudaProduct, RefusesBadArguments) {
  Case c(16, 256, 2, 1);
  DeviceBuffer<int32_t> acc(32);
  Stream s;
  Product p{c.weights(), c.x(), ProductOut{acc.data(), nullptr, 16, 1}};
  p.x.stride = 200;  // not a multiple of 16
  EXPECT_THROW(ternary_product({&p, 1}, s.get()), Error);
  p = Product{c.weights(), c.x(), ProductOut{acc.data(), nullptr, 15, 1}};  // ld < rows
  EXPECT_THROW(ternary_product({&p, 1}, s.get()), Error);
  p = Product{c.weights(), c.x(), ProductOut{}};  // no output
  EXPECT_THROW(ternary_product({&p, 1}, s.get()), Error);
  p = Product{c.weights(), c.x(), ProductOut{acc.data(), nullptr, 16, 1}};
  p.x.cols = 128;  // activations for another width
  EXPECT_THROW(ternary_product({&p, 1}, s.get()), Error);
  const Product five[5] = {};
  EXPECT_THROW(ternary_product(five, s.get()), Error);
  p = Product{c.weights(), c.x(), ProductOut{acc.data(), nullptr, 16, 1}};
  EXPECT_THROW(ternary_product({&p, 1}, s.get(), {2, 0, ProductPath::Tiled}), Error);  // k_warps: warp path only
}

}  // namespace
}  // namespace mmfree::cuda::test
