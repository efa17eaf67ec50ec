#include "model/ops.h"

namespace mmfree {

float rms_rstd(const float* x, int64_t k, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < k; ++i) ss += static_cast<double>(x[i]) * x[i];
  return 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(k)) + eps);
}

void rmsnorm_rows(const float* x, const float* w, int64_t n, int64_t k, float eps, float* out) {
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * k;
    const float rstd = rms_rstd(xr, k, eps);
    for (int64_t i = 0; i < k; ++i) out[t * k + i] = xr[i] * rstd * w[i];
  }
}

}  // namespace mmfree
