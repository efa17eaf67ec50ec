#pragma once
// Fast twins of the reference quantizers (kernels/ternary_ref.h) for training, which runs them on
// every weight and activation of every step: the same results bit for bit (tested), written so that
// the compiler vectorizes them (no libm rounding calls), and with the codes as floats, ready for the
// float products.
#include <cmath>
#include <cstdint>

namespace mmfree {

// std::round (half away from zero) for |v| < 2^31, without a library call.
inline float round_half_away(float v) {
  const float t = static_cast<float>(static_cast<int32_t>(v));  // truncation toward zero
  const float frac = v - t;                                      // exact
  // Selects held in their own variables: GCC 12 vectorizes this form (not the inline one).
  const float up = frac >= 0.5f ? 1.0f : 0.0f;
  const float down = frac <= -0.5f ? 1.0f : 0.0f;
  return t + up - down;
}

// ternarize_ref with the codes written as floats: clamp(nearbyint(W * s_w), -1, 1) is -1, 0 or +1
// by comparing W * s_w with -0.5 and 0.5 (0.5 itself rounds to even: 0). Returns s_w.
float ternarize_to_float(const float* w, int64_t count, float* out);

// rmsnorm_quantize_ref for n rows of k with the int8 codes written as floats.
void rmsnorm_quantize_to_float(const float* x, const float* w_norm, int64_t n, int64_t k, float* q, float* s_x);

}  // namespace mmfree
