#include "train/bitlinear_train.h"

#include <algorithm>

#include "model/ops.h"
#include "train/blas.h"
#include "train/parallel.h"
#include "train/train_ops.h"
#include "train/train_quant.h"

namespace mmfree {

namespace {
constexpr float kBitLinearEps = 1e-6f;  // SPEC.md: the fused kernel's default, not the module's 1e-8
}

void BitLinearTrainScratch::reserve(int64_t rows, int64_t max_in) {
  const auto size = static_cast<size_t>(rows * max_in);
  if (xq.size() < size) {
    xq.resize(size);
    du.resize(size);
  }
  if (s_x.size() < static_cast<size_t>(rows)) s_x.resize(static_cast<size_t>(rows));
}

void TrainBitLinear::prepare(std::vector<Parameter>& params, BitLinearIds ids, Quantizers mode) {
  Parameter& weight = params.at(ids.weight);
  weight_ = &weight;
  norm_ = &params.at(ids.norm);
  mode_ = mode;
  out_ = weight.shape.at(0);
  in_ = weight.shape.at(1);
  const auto count = static_cast<size_t>(out_ * in_);
  w_.resize(count);
  if (mode == Quantizers::Identity) {
    std::copy_n(weight.value.data(), count, w_.data());
    s_w_ = 1;
    return;
  }
  s_w_ = ternarize_to_float(weight.value.data(), out_ * in_, w_.data());
}

void TrainBitLinear::quantize_input(const float* x, int64_t n, bool dequantize, BitLinearTrainScratch& s) const {
  const int64_t k = in_;
  parallel_for(n, min_rows_per_part(k), [&](int64_t b, int64_t e, int) {
    float* xq = s.xq.data() + b * k;
    if (mode_ == Quantizers::Identity) {
      rmsnorm_rows(x + b * k, norm_->value.data(), e - b, k, kBitLinearEps, xq);
      return;
    }
    rmsnorm_quantize_to_float(x + b * k, norm_->value.data(), e - b, k, xq, s.s_x.data() + b);
    if (!dequantize) return;
    for (int64_t t = b; t < e; ++t) {
      float* row = s.xq.data() + t * k;
      const float sx = s.s_x[t];
      for (int64_t i = 0; i < k; ++i) row[i] /= sx;
    }
  });
}

void TrainBitLinear::forward(const float* x, int64_t n, float* y, BitLinearTrainScratch& s) const {
  quantize_input(x, n, false, s);
  // Integer-valued operands (|q| <= 128, T in {-1, 0, 1}) and sums below 2^24 for in < 131072:
  // the float product is the exact integer product in any summation order.
  blas::gemm(false, true, n, out_, in_, 1.0f, s.xq.data(), in_, w_.data(), in_, 0.0f, y, out_);
  if (mode_ == Quantizers::Identity) return;
  parallel_for(n, min_rows_per_part(out_), [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const float denom = s.s_x[t] * s_w_;
      float* row = y + t * out_;
      for (int64_t o = 0; o < out_; ++o) row[o] /= denom;
    }
  });
}

void TrainBitLinear::backward(const float* x, const float* dy, int64_t n, float* dx, bool accumulate_dx,
                              BitLinearTrainScratch& s) const {
  quantize_input(x, n, true, s);
  blas::gemm(true, false, out_, in_, n, 1.0f, dy, out_, s.xq.data(), in_, 1.0f, weight_->grad.data(), in_);
  blas::gemm(false, false, n, in_, out_, 1.0f / s_w_, dy, out_, w_.data(), in_, 0.0f, s.du.data(), in_);
  rmsnorm_backward_rows(x, norm_->value.data(), s.du.data(), n, in_, kBitLinearEps, dx, accumulate_dx,
                        norm_->grad.data());
}

}  // namespace mmfree
