#pragma once
// The quantiser's code, int(clamp(roundf(u * s), -128, 127)) (rmsnorm_quantize_ref, elementwise.cu's
// row kernel), by float additions and comparisons alone, for row_kernel_many.cu's single-target
// rows: on the GPU roundf (a float rounding) and the float <-> int conversions run on the 16-lane
// conversion unit, at one or two of them per value, these on the 128-lane float unit. Host and
// device run the same operations, so the CPU test (tests/test_quant_code.cpp) checks this very code.
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MMFREE_CODE_FN __host__ __device__ __forceinline__
#else
#define MMFREE_CODE_FN inline
#endif

namespace mmfree::cuda {

// 1.5 * 2^23: a float in [-2^22, 2^22] plus this is rounded to an integer (to even on ties), held
// in the low bits of the sum's significand.
constexpr float kCodeRound = 12582912.0f;
constexpr int32_t kCodeRoundBits = 0x4b400000;

// float(quant_code(u, s)), zero as +0 as float(int) gives it. Clamping before rounding gives the
// same code (the bounds are integers; NaN clamps to -128 either way), and leaves |t| <= 128.
MMFREE_CODE_FN float quant_code_float(float u, float s) {
  const float t = fminf(fmaxf(u * s, -128.0f), 127.0f);
  const float a = fabsf(t);
  const float y = (a + kCodeRound) - kCodeRound;              // a rounded to an integer, ties to even
  return copysignf(a - y == 0.5f ? y + 1.0f : y, t) + 0.0f;  // roundf: ties away from zero; -0 + 0 = +0
}

// The int of an integer-valued float c with |c| <= 2^22 (a code), without a conversion.
MMFREE_CODE_FN int32_t code_int(float c) {
  const float shifted = c + kCodeRound;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return bits - kCodeRoundBits;
}

}  // namespace mmfree::cuda

#undef MMFREE_CODE_FN
