// The byte layouts of ggml's TQ2_0, TQ1_0, I8 and Q8_0, checked element by element against the
// layout as ggml's docs and reference (de)quantisers define it, written out independently here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "format/float_codec.h"
#include "format/q8_0.h"
#include "format/ternary_ggml.h"
#include "util/error.h"
#include "util/half.h"

namespace mmfree {
namespace {

std::vector<int8_t> random_ternary(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int> d(-1, 1);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(g));
  return v;
}

uint16_t f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

TEST(TernaryPack, Tq2BlockLayoutMatchesGgml) {
  const int64_t rows = 3, cols = 512;  // 2 blocks per row
  const auto v = random_ternary(rows * cols, 1);
  std::vector<uint8_t> packed(static_cast<size_t>(rows * format_row_bytes(TernaryFormat::TQ2_0, cols)));
  ASSERT_EQ(packed.size(), static_cast<size_t>(rows * 2 * 66));
  pack_ternary(TernaryFormat::TQ2_0, v.data(), rows, cols, 0.0123f, packed.data());
  for (int64_t b = 0; b < rows * cols / 256; ++b) {
    const uint8_t* blk = packed.data() + b * 66;
    // Weight j*128 + l*32 + m of the block is bits 2l..2l+1 of qs[j*32 + m], stored as q + 1.
    for (int j = 0; j < 2; ++j)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m)
          ASSERT_EQ(((blk[j * 32 + m] >> (2 * l)) & 3) - 1, v[b * 256 + j * 128 + l * 32 + m]) << b << " " << j << l << m;
    EXPECT_EQ(f16_at(blk + 64), f32_to_f16(0.0123f));  // d after the 64 bytes of codes
  }
  const TernaryMatrix m{TernaryFormat::TQ2_0, packed.data(), rows, cols};
  std::vector<int8_t> back(v.size());
  EXPECT_NO_THROW(validate_ternary(m, "w"));
  unpack_ternary(m, back.data());
  EXPECT_EQ(back, v);
  packed[5] |= 3;  // code 3 is not a ternary value
  EXPECT_THROW(validate_ternary(m, "w"), Error);
}

// TQ1_0 keeps n trits (t = q + 1, the first the most significant, padded to 5) in the byte
// ceil(x * 256 / 243) of their base-3 number x; so x = floor(byte * 243 / 256).
std::vector<int> trits_of(uint8_t byte) {
  int x = byte * 243 / 256;
  std::vector<int> t(5);
  for (int k = 4; k >= 0; --k, x /= 3) t[k] = x % 3;
  return t;
}

TEST(TernaryPack, Tq1BlockLayoutMatchesGgml) {
  const int64_t rows = 2, cols = 768;
  const auto v = random_ternary(rows * cols, 2);
  std::vector<uint8_t> packed(static_cast<size_t>(rows * format_row_bytes(TernaryFormat::TQ1_0, cols)));
  ASSERT_EQ(packed.size(), static_cast<size_t>(rows * 3 * 54));
  pack_ternary(TernaryFormat::TQ1_0, v.data(), rows, cols, 0.5f, packed.data());
  for (int64_t b = 0; b < rows * cols / 256; ++b) {
    const uint8_t* blk = packed.data() + b * 54;
    const int8_t* w = v.data() + b * 256;
    for (int m = 0; m < 32; ++m)  // qs[0..31]: weights m + 32k
      for (int k = 0; k < 5; ++k) ASSERT_EQ(trits_of(blk[m])[k] - 1, w[m + 32 * k]);
    for (int m = 0; m < 16; ++m)  // qs[32..47]: weights 160 + m + 16k
      for (int k = 0; k < 5; ++k) ASSERT_EQ(trits_of(blk[32 + m])[k] - 1, w[160 + m + 16 * k]);
    for (int j = 0; j < 4; ++j) {  // qh[0..3]: weights 240 + j + 4k, the fifth trit zero
      for (int k = 0; k < 4; ++k) ASSERT_EQ(trits_of(blk[48 + j])[k] - 1, w[240 + j + 4 * k]);
      EXPECT_EQ(trits_of(blk[48 + j])[4], 0);
    }
    EXPECT_EQ(f16_at(blk + 52), f32_to_f16(0.5f));
  }
  std::vector<int8_t> back(v.size());
  unpack_ternary(TernaryMatrix{TernaryFormat::TQ1_0, packed.data(), rows, cols}, back.data());
  EXPECT_EQ(back, v);
}

TEST(TernaryPack, Tq1RoundTripsEveryFiveTritPattern) {
  // All 243 patterns, each in the first five weights (one byte) of its own block.
  std::vector<int8_t> v(243 * 256, 0);
  for (int p = 0; p < 243; ++p)
    for (int k = 0, x = p; k < 5; ++k, x /= 3) v[p * 256 + 32 * k] = static_cast<int8_t>(x % 3 - 1);
  std::vector<uint8_t> packed(243 * 54);
  pack_ternary(TernaryFormat::TQ1_0, v.data(), 243, 256, 1.0f, packed.data());
  std::vector<int8_t> back(v.size());
  unpack_ternary(TernaryMatrix{TernaryFormat::TQ1_0, packed.data(), 243, 256}, back.data());
  EXPECT_EQ(back, v);
}

TEST(TernaryPack, I8IsOneByteEachAndRejectsOtherValues) {
  const auto v = random_ternary(3 * 100, 3);
  std::vector<uint8_t> packed(300);
  EXPECT_EQ(format_row_bytes(TernaryFormat::I8, 100), 100);
  pack_ternary(TernaryFormat::I8, v.data(), 3, 100, 1.0f, packed.data());
  EXPECT_EQ(std::memcmp(packed.data(), v.data(), 300), 0);
  const TernaryMatrix m{TernaryFormat::I8, packed.data(), 3, 100};
  std::vector<int8_t> back(300);
  EXPECT_NO_THROW(validate_ternary(m, "w"));
  unpack_ternary(m, back.data());
  EXPECT_EQ(back, v);
  packed[7] = 2;
  EXPECT_THROW(validate_ternary(m, "w"), Error);
}

TEST(TernaryPack, RowsThatAreNotWholeBlocksFallBackToI8) {
  EXPECT_EQ(default_format(128, TernaryFormat::TQ2_0), TernaryFormat::I8);
  EXPECT_EQ(default_format(300, TernaryFormat::TQ1_0), TernaryFormat::I8);
  EXPECT_EQ(default_format(2560, TernaryFormat::TQ2_0), TernaryFormat::TQ2_0);
  EXPECT_EQ(default_format(512, TernaryFormat::TQ1_0), TernaryFormat::TQ1_0);
  // The row sizes are ggml's for the matching GGUF types.
  for (auto f : {TernaryFormat::TQ2_0, TernaryFormat::TQ1_0, TernaryFormat::I8})
    EXPECT_EQ(format_row_bytes(f, 2560), ggml_row_bytes(ternary_ggml_type(f), 2560)) << format_name(f);
  // Bits per weight: 66 and 54 bytes per 256 weights.
  EXPECT_DOUBLE_EQ(8.0 * format_row_bytes(TernaryFormat::TQ2_0, 2560) / 2560, 2.0625);
  EXPECT_DOUBLE_EQ(8.0 * format_row_bytes(TernaryFormat::TQ1_0, 2560) / 2560, 1.6875);
}

TEST(Q8_0, BlockLayoutAndRounding) {
  // Block 0: max |x| = 127 so d = 1; 2.5 and -2.5 round away from zero. Block 1: all zero.
  std::vector<float> x(64, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = -0.4f;
  x[31] = -127.0f;
  std::vector<uint8_t> q(2 * kQ8_0BlockBytes);
  quantize_q8_0(x.data(), 64, q.data());
  EXPECT_EQ(f16_at(q.data()), f32_to_f16(1.0f));
  EXPECT_EQ(static_cast<int8_t>(q[2]), 127);
  EXPECT_EQ(static_cast<int8_t>(q[3]), 3);
  EXPECT_EQ(static_cast<int8_t>(q[4]), -3);
  EXPECT_EQ(static_cast<int8_t>(q[5]), 0);
  EXPECT_EQ(static_cast<int8_t>(q[2 + 31]), -127);
  EXPECT_EQ(f16_at(q.data() + 34), 0);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(q[36 + i], 0);
}

TEST(Q8_0, ErrorIsWithinHalfAStepPlusTheF16Scale) {
  std::mt19937 g(4);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> x(32 * 40), y(x.size());
  for (auto& v : x) v = nd(g);
  std::vector<uint8_t> q(40 * kQ8_0BlockBytes);
  quantize_q8_0(x.data(), static_cast<int64_t>(x.size()), q.data());
  dequantize_q8_0(q.data(), static_cast<int64_t>(x.size()), y.data());
  for (size_t b = 0; b < 40; ++b) {
    float amax = 0;
    for (size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    const float d = amax / 127;
    for (size_t i = 0; i < 32; ++i)
      EXPECT_LE(std::fabs(y[b * 32 + i] - x[b * 32 + i]), 0.5f * d + 127 * d * 1e-3f) << b << " " << i;
  }
}

TEST(FloatCodec, HalfTypesRoundTripTheirOwnValues) {
  const std::vector<float> x = {0.0f, -1.5f, 0.333251953125f, 65504.0f, 1e-7f};
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
    std::vector<uint8_t> b(x.size() * 4);
    std::vector<float> once(x.size()), twice(x.size());
    encode_floats(t, x.data(), static_cast<int64_t>(x.size()), b.data());
    decode_floats(t, b.data(), static_cast<int64_t>(x.size()), once.data());
    encode_floats(t, once.data(), static_cast<int64_t>(x.size()), b.data());
    decode_floats(t, b.data(), static_cast<int64_t>(x.size()), twice.data());
    EXPECT_EQ(once, twice) << ggml_type_traits(t).name;  // narrowing is exact on values it produced
    if (t == GgmlType::F32) {
      EXPECT_EQ(once, x);
    }
  }
}

}  // namespace
}  // namespace mmfree
