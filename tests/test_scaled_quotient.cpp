// The tiled product's division-free scale (src/backend/cuda/scaled_quotient.h) against the IEEE
// division it replaces, on the CPU: the same operations as on the GPU (float multiply, fma,
// correctly rounded reciprocal), so a mismatch here is a mismatch there.
#include "backend/cuda/scaled_quotient.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace mmfree::cuda {
namespace {

// Counts the v where scaled_quotient differs from float(v) / d in any bit, showing the first.
class QuotientCheck {
 public:
  void check(int32_t v, float d) {
    ++checked_;
    ASSERT_TRUE(quotient_fast(d)) << d;
    const float want = static_cast<float>(v) / d;
    const float got = scaled_quotient(v, d, quotient_reciprocal(d));
    if (std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want)) return;
    if (wrong_++ == 0)
      ADD_FAILURE() << "v " << v << " d " << std::hexfloat << d << ": got " << got << ", want " << want << std::defaultfloat;
  }
  ~QuotientCheck() { EXPECT_EQ(wrong_, 0) << "of " << checked_ << " quotients"; }

 private:
  int64_t checked_ = 0, wrong_ = 0;
};

float significand_times(uint32_t bits23, int exponent) {  // (1 + bits23 2^-23) 2^exponent
  return std::ldexp(std::bit_cast<float>(0x3f800000u | (bits23 & 0x7fffffu)), exponent);
}

// The proof in scaled_quotient.h leaves out the largest divisor significands: every dividend
// significand (the integers 2^23 .. 2^24 - 1), for the 16 largest, both signs.
TEST(ScaledQuotient, EveryDividendForTheLargestDivisorSignificands) {
  QuotientCheck c;
  for (uint32_t k = 1; k <= 16; ++k) {
    const float d = significand_times(0x800000u - k, 0);
    for (int32_t v = 1 << 23; v < (1 << 24); ++v) {
      c.check(v, d);
      if (v % 7 == 0) c.check(-v, d);
    }
  }
}

// Random dividends over all of int32 and random divisors over the whole fast range.
TEST(ScaledQuotient, RandomDividendsAndDivisors) {
  QuotientCheck c;
  std::mt19937_64 rng(20261202);
  for (int i = 0; i < 4'000'000; ++i) {
    const uint64_t bits = rng();
    const float d = significand_times(static_cast<uint32_t>(bits >> 40), static_cast<int>((bits >> 32) % 128) - 64);
    int32_t v = static_cast<int32_t>(static_cast<uint32_t>(bits));
    if (i % 4 == 1) v >>= 12;  // small sums too, as short rows give
    c.check(v, d);
  }
}

// The hardest cases for rounding: quotients next to a midpoint between two floats. For a random
// divisor significand B and a midpoint m of [2^22, 2^23) (an odd multiple of 1/4), v = round(B m),
// so that v / B lies within 1/2 / B of m.
TEST(ScaledQuotient, QuotientsNextToMidpoints) {
  QuotientCheck c;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 4'000'000; ++i) {
    const uint64_t bits = rng();
    const float b = significand_times(static_cast<uint32_t>(bits >> 41), 0);
    const double m = (2.0 * static_cast<double>((1u << 23) + static_cast<uint32_t>(bits % (1u << 23))) + 1.0) / 4.0;
    const auto v = static_cast<int32_t>(std::llround(static_cast<double>(b) * m));
    c.check(v, b);
    c.check(-v, std::ldexp(b, static_cast<int>((bits >> 32) % 120) - 60));  // the same significands, scaled
  }
}

// The edges: the ends of the fast range, the extreme sums, exact quotients.
TEST(ScaledQuotient, Edges) {
  QuotientCheck c;
  const float ds[] = {0x1p-64f,
                      std::nextafter(0x1p-64f, 1.0f),
                      0x1p64f,
                      std::nextafter(0x1p64f, 0.0f),
                      1.0f,
                      std::nextafter(1.0f, 2.0f),
                      std::nextafter(2.0f, 0.0f),
                      3.0f,
                      0.1f,
                      127.0f / 1e-5f * 1e5f,
                      1.0f / 3.0f};
  const int32_t vs[] = {0, 1, -1, 2, 3, 7, 1 << 24, (1 << 24) + 1, -(1 << 24) - 1, (1 << 24) + 3,
                        std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min(), 884736, -1769472};
  for (const float d : ds)
    for (const int32_t v : vs) c.check(v, d);
}

TEST(ScaledQuotient, OtherDivisorsAreLeftToTheDivision) {
  const float inf = std::numeric_limits<float>::infinity();
  for (const float d : {0.0f, -0.0f, -1.0f, 1e-30f, 1e-40f, 1e30f, inf, -inf, std::numeric_limits<float>::quiet_NaN(),
                        std::nextafter(0x1p-64f, 0.0f), std::nextafter(0x1p64f, inf)})
    EXPECT_FALSE(quotient_fast(d)) << d;
  EXPECT_TRUE(quotient_fast(0x1p-64f));
  EXPECT_TRUE(quotient_fast(0x1p64f));
}

}  // namespace
}  // namespace mmfree::cuda
