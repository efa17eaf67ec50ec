#include "kernels/ternary_ref.h"

#include <algorithm>
#include <cmath>

namespace mmfree {

float ternarize_ref(const float* w, int64_t count, int8_t* out) {
  double sum = 0;
  for (int64_t i = 0; i < count; ++i) sum += std::fabs(w[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(count));
  const float s_w = 1.0f / std::max(mean, 1e-5f);
  for (int64_t i = 0; i < count; ++i) {
    float r = std::nearbyint(w[i] * s_w);  // default rounding mode: half to even
    out[i] = static_cast<int8_t>(std::clamp(r, -1.0f, 1.0f));
  }
  return s_w;
}

void rmsnorm_quantize_ref(const float* x, const float* w_norm, int64_t n, int64_t k, int8_t* q, float* s_x) {
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * k;
    double ss = 0;
    for (int64_t i = 0; i < k; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float rstd = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(k)) + 1e-6f);
    float amax = 0;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(xr[i] * rstd * w_norm[i]));
    const float s = 127.0f / std::max(amax, 1e-5f);
    for (int64_t i = 0; i < k; ++i) {
      float r = std::round(xr[i] * rstd * w_norm[i] * s);
      q[t * k + i] = static_cast<int8_t>(std::clamp(r, -128.0f, 127.0f));
    }
    s_x[t] = s;
  }
}

void ternary_matmul_ref(const int8_t* w, int64_t m, int64_t k, const int8_t* q, int64_t n, int32_t* y) {
  for (int64_t t = 0; t < n; ++t)
    for (int64_t o = 0; o < m; ++o) {
      const int8_t* wr = w + o * k;
      const int8_t* qr = q + t * k;
      int32_t acc = 0;
      for (int64_t i = 0; i < k; ++i) {
        if (wr[i] > 0) acc += qr[i];
        else if (wr[i] < 0) acc -= qr[i];
      }
      y[t * m + o] = acc;
    }
}

}  // namespace mmfree
