// The many-row quantising pass's conversion-free code (src/backend/cuda/quant_code.h) against the
// formula it replaces (row_common.cuh quant_code: roundf, clamp, int) on the CPU, which runs the same
// float operations as the GPU.
#include "backend/cuda/quant_code.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace mmfree::cuda {
namespace {

int reference_code(float u, float s) {
  return static_cast<int>(std::fmin(std::fmax(std::round(u * s), -128.0f), 127.0f));
}

// Counts the (u, s) whose float code or int differs from the reference in any bit, showing the first.
class CodeCheck {
 public:
  void check(float u, float s) {
    ++checked_;
    const int want = reference_code(u, s);
    const float got = quant_code_float(u, s);
    if (std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(static_cast<float>(want)) && code_int(got) == want) return;
    if (wrong_++ == 0)
      ADD_FAILURE() << "u " << std::hexfloat << u << " s " << s << ": got " << got << ", want " << want << std::defaultfloat;
  }
  ~CodeCheck() { EXPECT_EQ(wrong_, 0) << "of " << checked_ << " codes"; }

 private:
  int64_t checked_ = 0, wrong_ = 0;
};

// Every float within 4096 ulps of each integer and each half-way point from -140 to 140 (where
// rounding and clamping decide), with s = 1 so that u * s = u.
TEST(QuantCode, EveryFloatNearTheRoundingBoundaries) {
  CodeCheck c;
  for (int twice = -280; twice <= 280; ++twice) {
    const float centre = static_cast<float>(twice) / 2.0f;
    float lo = centre, hi = centre;
    for (int step = 0; step < 4096; ++step) {
      c.check(lo, 1.0f);
      c.check(hi, 1.0f);
      lo = std::nextafter(lo, -1e30f);
      hi = std::nextafter(hi, 1e30f);
    }
  }
}

// A sweep over all float bit patterns (every 251st: signs, subnormals, huge values, inf, quiet NaN)
// as u * s with s = 1, and with the scales the quantiser forms (127 / amax). Signaling NaNs are left
// out: the quantiser's inputs are arithmetic results, never one, and with s = 1 the compiler may
// drop the multiply that would quiet it before fmaxf sees it.
TEST(QuantCode, SweepOfAllFloats) {
  CodeCheck c;
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 251) {
    const float u = std::bit_cast<float>(static_cast<uint32_t>(bits));
    if (std::isnan(u) && (bits & 0x400000u) == 0) continue;  // signaling
    c.check(u, 1.0f);
  }
  const float specials[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min(), 0.5f,
                            -0.5f, 127.5f, -128.5f, 126.5f, -127.5f};
  for (float u : specials) c.check(u, 1.0f);
  for (float amax : {1e-5f, 0.0123f, 0.7f, 3.0f, 41.5f, 1e6f}) {
    const float s = 127.0f / amax;
    for (uint32_t bits = 0; bits < (1u << 31); bits += 4099) {
      const float u = std::bit_cast<float>(bits) * amax / 1e30f;  // spread over [0, amax]-ish and beyond
      c.check(u, s);
      c.check(-u, s);
    }
  }
}

}  // namespace
}  // namespace mmfree::cuda
