#include "train/train_ops.h"

#include <algorithm>
#include <cmath>

#include "model/ops.h"
#include "train/parallel.h"

namespace mmfree {

namespace {

void rmsnorm_backward_range(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, float* dx,
                            bool accumulate, float* dw) {
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * k;
    const float* dyr = dy + t * k;
    float* dxr = dx + t * k;
    const float rstd = rms_rstd(xr, k, eps);
    double dot = 0;  // sum of xhat * w * dy
    for (int64_t i = 0; i < k; ++i) {
      const float xhat = xr[i] * rstd;
      dw[i] += dyr[i] * xhat;
      dot += static_cast<double>(xhat) * w[i] * dyr[i];
    }
    const float c = static_cast<float>(dot / static_cast<double>(k));
    for (int64_t i = 0; i < k; ++i) {
      const float g = (w[i] * dyr[i] - xr[i] * rstd * c) * rstd;
      dxr[i] = accumulate ? dxr[i] + g : g;
    }
  }
}

}  // namespace

void rmsnorm_rows_parallel(const float* x, const float* w, int64_t n, int64_t k, float eps, float* out) {
  parallel_for(n, min_rows_per_part(k), [&](int64_t b, int64_t e, int) { rmsnorm_rows(x + b * k, w, e - b, k, eps, out + b * k); });
}

void rmsnorm_backward_rows(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, float* dx,
                           bool accumulate, float* dw) {
  // Part 0 adds into dw, the others into partial sums added after it in part order.
  std::vector<float> partial(static_cast<size_t>((parallel_threads() - 1) * k), 0.0f);
  const int parts = parallel_for(n, min_rows_per_part(k), [&](int64_t b, int64_t e, int part) {
    float* into = part == 0 ? dw : partial.data() + (part - 1) * k;
    rmsnorm_backward_range(x + b * k, w, dy + b * k, e - b, k, eps, dx + b * k, accumulate, into);
  });
  for (int part = 1; part < parts; ++part)
    for (int64_t i = 0; i < k; ++i) dw[i] += partial[(part - 1) * k + i];
}

SiluAndGrad silu_and_grad(float x) {
  const float s = sigmoidf(x);
  return {x * s, s * (1.0f + x * (1.0f - s))};
}

void lower_bounds_backward(const std::vector<float>& params, const float* dlb, int64_t L, int64_t d, float* dparams) {
  std::vector<double> p(static_cast<size_t>(L)), dp(static_cast<size_t>(L));
  for (int64_t c = 0; c < d; ++c) {
    double mx = -INFINITY;
    for (int64_t l = 0; l < L; ++l) mx = std::max(mx, static_cast<double>(params[l * d + c]));
    double z = 0;
    for (int64_t l = 0; l < L; ++l) z += p[l] = std::exp(params[l * d + c] - mx);
    for (int64_t l = 0; l < L; ++l) p[l] /= z;
    // lb[l] = sum_{j<=l} P[j] - P[0]: dP[j] = sum_{l>=j} dlb[l], minus sum_l dlb[l] for j = 0.
    double suffix = 0;
    for (int64_t l = L - 1; l >= 0; --l) dp[l] = suffix += dlb[l * d + c];
    dp[0] -= suffix;
    // Softmax: dparams[l] = P[l] * (dP[l] - sum_j P[j] dP[j]).
    double mean = 0;
    for (int64_t l = 0; l < L; ++l) mean += p[l] * dp[l];
    for (int64_t l = 0; l < L; ++l) dparams[l * d + c] += static_cast<float>(p[l] * (dp[l] - mean));
  }
}

}  // namespace mmfree
