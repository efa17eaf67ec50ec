#include "kernels/train_quant.h"

#include <algorithm>

#include "model/ops.h"

namespace mmfree {

float ternarize_to_float(const float* w, int64_t count, float* out) {
  double sum = 0;  // in order, as ternarize_ref: the same s_w to the last bit
  for (int64_t i = 0; i < count; ++i) sum += std::fabs(w[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(count));
  const float s_w = 1.0f / std::max(mean, 1e-5f);
  for (int64_t i = 0; i < count; ++i) {
    const float v = w[i] * s_w;
    out[i] = static_cast<float>(v > 0.5f) - static_cast<float>(v < -0.5f);
  }
  return s_w;
}

namespace {

// max |x_i * rstd * w_i| in 8 independent lanes, so that it vectorizes (max is exact in any order).
float abs_max_scaled(const float* x, float rstd, const float* w, int64_t k) {
  constexpr int kLanes = 8;
  float lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= k; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float v = std::fabs(x[i + j] * rstd * w[i + j]);
      lane[j] = v > lane[j] ? v : lane[j];
    }
  float m = 0;
  for (; i < k; ++i) m = std::max(m, std::fabs(x[i] * rstd * w[i]));
  for (float v : lane) m = std::max(m, v);
  return m;
}

// q_i = clamp(round(x_i * rstd * w_i * s), -128, 127).
void quantize_row(const float* __restrict x, float rstd, const float* __restrict w, float s, int64_t k,
                  float* __restrict q) {
  for (int64_t i = 0; i < k; ++i) {
    float r = round_half_away(x[i] * rstd * w[i] * s);
    r = r > 127.0f ? 127.0f : r;
    q[i] = r < -128.0f ? -128.0f : r;
  }
}

}  // namespace

void rmsnorm_quantize_to_float(const float* x, const float* w_norm, int64_t n, int64_t k, float* q, float* s_x) {
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * k;
    float* qr = q + t * k;
    const float rstd = rms_rstd(xr, k, 1e-6f);
    const float s = 127.0f / std::max(abs_max_scaled(xr, rstd, w_norm, k), 1e-5f);
    quantize_row(xr, rstd, w_norm, s, k, qr);
    s_x[t] = s;
  }
}

}  // namespace mmfree
