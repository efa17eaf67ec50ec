#pragma once
// Element-wise float operations of the model.
#include <cmath>
#include <cstdint>

namespace mmfree {

inline float sigmoidf(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float siluf(float x) { return x / (1.0f + std::exp(-x)); }

// 1 / sqrt(mean(x^2) + eps) over k floats (the sum of squares in double).
float rms_rstd(const float* x, int64_t k, float eps);

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w, for n rows of k floats (out may alias x).
void rmsnorm_rows(const float* x, const float* w, int64_t n, int64_t k, float eps, float* out);

}  // namespace mmfree
