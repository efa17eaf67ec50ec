// Packed ternary formats: the bytes follow ggml's TQ2_0 / TQ1_0 definitions (checked against
// encoders written here from ggml's description, independent of ternary_layout.h), pack/unpack
// round trips, validation, and clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ternary_format.h"
#include "util/error.h"
#include "util/half.h"
#include "test_util.h"

namespace mmfree {
namespace {

using test::randn;
using test::random_ternary;

// ggml's quantize_row_tq2_0_ref loop structure, on exact ternary input: for each 128-weight half j,
// byte m takes x[m + l*32] in bits 2l.
std::vector<uint8_t> ggml_style_tq2(const std::vector<int8_t>& x, uint16_t d) {
  std::vector<uint8_t> out;
  for (size_t blk = 0; blk < x.size() / 256; ++blk) {
    const int8_t* p = x.data() + blk * 256;
    uint8_t qs[64] = {};
    for (int j = 0; j < 64; j += 32) {
      for (int m = 0; m < 32; ++m) {
        uint8_t q = 0;
        for (int l = 0; l < 4; ++l) q = static_cast<uint8_t>(q + ((p[m + l * 32] + 1) << (2 * l)));
        qs[j + m] = q;
      }
      p += 128;
    }
    out.insert(out.end(), qs, qs + 64);
    out.push_back(static_cast<uint8_t>(d & 0xff));
    out.push_back(static_cast<uint8_t>(d >> 8));
  }
  return out;
}

// ggml's quantize_row_tq1_0_ref loop structure: 32 bytes of 5 digits along x[m + n*32], then 16
// bytes along x[m + n*16], then 4 qh bytes of 4 digits along x[j + m*4] shifted by one digit;
// each value v stored as ceil(v * 256 / 243).
std::vector<uint8_t> ggml_style_tq1(const std::vector<int8_t>& x, uint16_t d) {
  std::vector<uint8_t> out;
  auto scaled = [](int v) { return static_cast<uint8_t>((v * 256 + 242) / 243); };
  for (size_t blk = 0; blk < x.size() / 256; ++blk) {
    const int8_t* p = x.data() + blk * 256;
    uint8_t qs[48], qh[4];
    for (int m = 0; m < 32; ++m) {
      int q = 0;
      for (int n = 0; n < 5; ++n) q = q * 3 + p[m + n * 32] + 1;
      qs[m] = scaled(q);
    }
    p += 160;
    for (int m = 0; m < 16; ++m) {
      int q = 0;
      for (int n = 0; n < 5; ++n) q = q * 3 + p[m + n * 16] + 1;
      qs[32 + m] = scaled(q);
    }
    p += 80;
    for (int j = 0; j < 4; ++j) {
      int q = 0;
      for (int m = 0; m < 4; ++m) q = q * 3 + p[j + m * 4] + 1;
      qh[j] = scaled(q * 3);
    }
    out.insert(out.end(), qs, qs + 48);
    out.insert(out.end(), qh, qh + 4);
    out.push_back(static_cast<uint8_t>(d & 0xff));
    out.push_back(static_cast<uint8_t>(d >> 8));
  }
  return out;
}

// ggml's dequantize_row_tq1_0 digit extraction, for decoding our bytes independently.
std::vector<int8_t> ggml_style_tq1_decode(const std::vector<uint8_t>& bytes) {
  const uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
  std::vector<int8_t> y;
  for (size_t blk = 0; blk < bytes.size() / 54; ++blk) {
    const uint8_t* qs = bytes.data() + blk * 54;
    const uint8_t* qh = qs + 48;
    auto digit = [&](uint8_t b, int n) { return static_cast<int8_t>(((static_cast<uint8_t>(b * pow3[n]) * 3) >> 8) - 1); };
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 32; ++m) y.push_back(digit(qs[m], n));
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 16; ++m) y.push_back(digit(qs[32 + m], n));
    for (int n = 0; n < 4; ++n)
      for (int j = 0; j < 4; ++j) y.push_back(digit(qh[j], n));
  }
  return y;
}

TEST(TernaryFormat, Tq2BytesMatchGgmlLayout) {
  const float d = 0.0123f;
  for (uint32_t seed : {1u, 2u, 3u}) {
    const auto t = random_ternary(3 * 512, seed);
    const auto packed = pack_ternary(TernaryFormat::TQ2_0, t.data(), 3, 512, d);
    EXPECT_EQ(packed, ggml_style_tq2(t, f32_to_f16(d)));
  }
}

// TQ2_0_R8 holds TQ2_0's 64 code bytes of every block, rows in groups of 8 (the last one smaller)
// with the blocks of a group's rows side by side, then every block's d in row order.
TEST(TernaryFormat, Tq2R8IsTq2Rearranged) {
  const float d = 0.25f;
  for (int64_t rows : {1, 8, 13, 21}) {
    const int64_t cols = 768, blocks = cols / 256;
    const auto t = random_ternary(rows * cols, static_cast<uint32_t>(rows));
    const auto tq2 = pack_ternary(TernaryFormat::TQ2_0, t.data(), rows, cols, d);
    const auto r8 = pack_ternary(TernaryFormat::TQ2_0_R8, t.data(), rows, cols, d);
    ASSERT_EQ(r8.size(), tq2.size()) << rows;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t group_start = r / 8 * 8, group_rows = std::min<int64_t>(8, rows - group_start);
        const int64_t at = group_start * blocks * 64 + (b * group_rows + r % 8) * 64;
        const auto* want = tq2.data() + (r * blocks + b) * 66;
        ASSERT_TRUE(std::equal(want, want + 64, r8.data() + at)) << "rows " << rows << " row " << r << " block " << b;
        ASSERT_TRUE(std::equal(want + 64, want + 66, r8.data() + rows * blocks * 64 + (r * blocks + b) * 2));
      }
  }
}

TEST(TernaryFormat, Tq2OneHotPositions) {
  // Element j*128 + l*32 + m lives in qs[j*32 + m] at bits 2l (the brief's statement of the layout).
  for (int e = 0; e < 256; ++e) {
    std::vector<int8_t> t(256, -1);  // code 0 everywhere ...
    t[static_cast<size_t>(e)] = 1;   // ... but one code 2
    const auto packed = pack_ternary(TernaryFormat::TQ2_0, t.data(), 1, 256, 1.0f);
    const int j = e / 128, l = (e % 128) / 32, m = e % 32;
    for (int s = 0; s < 64; ++s) ASSERT_EQ(packed[s], s == j * 32 + m ? 2 << (2 * l) : 0) << "element " << e << " byte " << s;
  }
}

TEST(TernaryFormat, Tq1BytesMatchGgmlLayout) {
  const float d = 3.5f;
  for (uint32_t seed : {4u, 5u, 6u}) {
    const auto t = random_ternary(2 * 768, seed);
    const auto packed = pack_ternary(TernaryFormat::TQ1_0, t.data(), 2, 768, d);
    EXPECT_EQ(packed, ggml_style_tq1(t, f32_to_f16(d)));
    EXPECT_EQ(ggml_style_tq1_decode(packed), t);
  }
  // All zero weights: every digit 1, so qs bytes hold 11111 (base 3) = 121 -> ceil(121*256/243) = 128
  // and qh bytes 1111 shifted = 120 -> 127.
  std::vector<int8_t> zeros(256, 0);
  const auto z = pack_ternary(TernaryFormat::TQ1_0, zeros.data(), 1, 256, 1.0f);
  for (int s = 0; s < 48; ++s) EXPECT_EQ(z[s], 128);
  for (int s = 48; s < 52; ++s) EXPECT_EQ(z[s], 127);
  EXPECT_EQ(z[52] | z[53] << 8, 0x3c00);  // f16 1.0
}

TEST(TernaryFormat, RowBytes) {
  EXPECT_EQ(format_row_bytes(TernaryFormat::TQ2_0, 14336), 14336 / 256 * 66);
  EXPECT_EQ(format_row_bytes(TernaryFormat::TQ1_0, 512), 108);
  EXPECT_EQ(format_row_bytes(TernaryFormat::I8, 100), 100);
  EXPECT_EQ(format_row_bytes(TernaryFormat::TQ2_0_R8, 14336), 14336 / 4);
  EXPECT_EQ(format_matrix_bytes(TernaryFormat::TQ2_0_R8, 3, 512), 3 * 2 * 66);  // the size of TQ2_0
  EXPECT_EQ(format_matrix_bytes(TernaryFormat::TQ2_0, 3, 512), 3 * 2 * 66);
  EXPECT_EQ(default_format(2560), TernaryFormat::TQ2_0_R8);
  EXPECT_EQ(default_format(2560, TernaryFormat::TQ2_0), TernaryFormat::TQ2_0);
  EXPECT_EQ(default_format(128), TernaryFormat::I8);
}

TEST(TernaryFormat, PackUnpackRoundTrip) {
  struct Case {
    TernaryFormat f;
    int64_t rows, cols;
  };
  for (const Case c : {Case{TernaryFormat::TQ2_0, 5, 256}, Case{TernaryFormat::TQ2_0, 3, 2816}, Case{TernaryFormat::TQ2_0_R8, 19, 512},
                       Case{TernaryFormat::TQ2_0_R8, 8, 256}, Case{TernaryFormat::TQ1_0, 7, 256},
                       Case{TernaryFormat::TQ1_0, 2, 2816}, Case{TernaryFormat::I8, 3, 1}, Case{TernaryFormat::I8, 9, 131}}) {
    const auto t = random_ternary(c.rows * c.cols, static_cast<uint32_t>(c.rows * 1000 + c.cols));
    const auto packed = pack_ternary(c.f, t.data(), c.rows, c.cols, 0.5f);
    ASSERT_EQ(static_cast<int64_t>(packed.size()), format_matrix_bytes(c.f, c.rows, c.cols));
    const TernaryMatrix m{c.f, packed.data(), c.rows, c.cols};
    std::vector<int8_t> back(t.size());
    unpack_ternary(m, back.data());
    EXPECT_EQ(back, t) << format_name(c.f) << " " << c.rows << "x" << c.cols;
    EXPECT_NO_THROW(validate_ternary(m, "w"));
  }
}

TEST(TernaryFormat, ValidateRejectsNonTernaryBytes) {
  auto t = random_ternary(2 * 256, 9);
  auto packed = pack_ternary(TernaryFormat::TQ2_0, t.data(), 2, 256, 1.0f);
  packed[66 + 5] |= 0x30;  // row 1, block 0: code 3 in field 2
  try {
    validate_ternary(TernaryMatrix{TernaryFormat::TQ2_0, packed.data(), 2, 256}, "blk.0.ffn_up.weight");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight: row 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("code 3"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> i8 = {0, 1, 0xff, 2};
  EXPECT_THROW(validate_ternary(TernaryMatrix{TernaryFormat::I8, i8.data(), 1, 4}, "w"), Error);
}

TEST(TernaryFormat, ClearErrors) {
  try {
    format_row_bytes(TernaryFormat::TQ1_0, 100);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "ternary format tq1_0 cannot hold rows of 100 weights (it needs a positive multiple of 256)");
  }
  try {
    parse_format("q4_0");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unknown ternary weight format 'q4_0' (expected tq2_0_r8, tq2_0, tq1_0 or i8)");
  }
  const std::vector<int8_t> bad = {0, 2};
  EXPECT_THROW(pack_ternary(TernaryFormat::I8, bad.data(), 1, 2, 1.0f), Error);
}

}  // namespace
}  // namespace mmfree
