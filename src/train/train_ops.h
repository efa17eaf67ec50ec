#pragma once
// Backward passes of the model's element-wise pieces: RMSNorm, SiLU, the lower bounds.
#include <cstdint>
#include <vector>

namespace mmfree {

// rmsnorm_rows (model/ops.h) with the rows spread over the threads of parallel.h.
void rmsnorm_rows_parallel(const float* x, const float* w, int64_t n, int64_t k, float eps, float* out);

// For y = x * rstd(x) * w over n rows of k (rows spread over the threads of parallel.h): dx = rstd * (w*dy - xhat * mean(xhat * w*dy)), xhat = x * rstd;
// dx is added to when accumulate, else written; dw += sum over rows of dy * xhat.
void rmsnorm_backward_rows(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, float* dx,
                           bool accumulate, float* dw);

// silu(x) = x s and its derivative s (1 + x (1 - s)), s = sigmoid(x): one exp for both.
struct SiluAndGrad {
  float value, grad;
};
SiluAndGrad silu_and_grad(float x);

// The lower bounds lb[l] = cumsum(P)[l] - P[0], P = softmax(params over layers) (model.h), backward:
// given dlb [L][d], adds d(loss)/d(params) to dparams [L][d].
void lower_bounds_backward(const std::vector<float>& params, const float* dlb, int64_t L, int64_t d, float* dparams);

}  // namespace mmfree
