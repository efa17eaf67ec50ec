#pragma once
// The plain reference kernels of BitLinear (SPEC.md): weight ternarisation, the fused
// RMSNorm + int8 activation quantiser, and the ternary x int8 product. Every fast kernel is
// tested against these.
#include <cstdint>

namespace mmfree {

// Rounds W * s_w to {-1, 0, +1} (half to even), s_w = 1 / max(mean |W|, 1e-5); returns s_w.
float ternarize_ref(const float* w, int64_t count, int8_t* out);

// For each of n rows of k floats: u = x / sqrt(mean(x^2) + 1e-6) * w_norm,
// s_x = 127 / max(max|u|, 1e-5), q = clamp(round(u * s_x), -128, 127) (half away from zero).
void rmsnorm_quantize_ref(const float* x, const float* w_norm, int64_t n, int64_t k, int8_t* q, float* s_x);

// y[t][o] = sum_i w[o][i] * q[t][i] for t < n, o < m: int32 sums of int8 times {-1, 0, +1}.
void ternary_matmul_ref(const int8_t* w, int64_t m, int64_t k, const int8_t* q, int64_t n, int32_t* y);

}  // namespace mmfree
