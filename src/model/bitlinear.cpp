#include "model/bitlinear.h"

#include <utility>

#include "kernels/ternary_ref.h"
#include "util/error.h"

namespace mmfree {

void BitLinearScratch::reserve(int64_t rows, int64_t max_in, int64_t max_out) {
  q.resize(static_cast<size_t>(rows * max_in));
  s_x.resize(static_cast<size_t>(rows));
  acc.resize(static_cast<size_t>(rows * max_out));
}

BitLinear::BitLinear(const TensorView& weight, const TensorView& norm)
    : out_(weight.shape.at(0)), in_(weight.shape.at(1)), ternary_(static_cast<size_t>(out_ * in_)), norm_(norm.to_f32()) {
  const std::vector<float> w = weight.to_f32();
  s_w_ = ternarize_ref(w.data(), out_ * in_, ternary_.data());
}

BitLinear::BitLinear(TernaryWeights w, std::vector<float> norm)
    : out_(w.out), in_(w.in), ternary_(std::move(w.values)), s_w_(w.scale), norm_(std::move(norm)) {
  check(static_cast<int64_t>(ternary_.size()) == out_ * in_ && static_cast<int64_t>(norm_.size()) == in_,
        "internal: BitLinear weight and norm sizes do not match");
}

int64_t BitLinear::weight_bytes() const {
  return static_cast<int64_t>(ternary_.size() * sizeof(int8_t) + norm_.size() * sizeof(float));
}

void BitLinear::forward(const float* x, int64_t n, float* y, BitLinearScratch& s) const {
  check(static_cast<int64_t>(s.s_x.size()) >= n && static_cast<int64_t>(s.q.size()) >= n * in_ &&
            static_cast<int64_t>(s.acc.size()) >= n * out_,
        "internal: BitLinear scratch too small");
  rmsnorm_quantize_ref(x, norm_.data(), n, in_, s.q.data(), s.s_x.data());
  ternary_matmul_ref(ternary_.data(), out_, in_, s.q.data(), n, s.acc.data());
  for (int64_t t = 0; t < n; ++t) {
    const float denom = s.s_x[t] * s_w_;
    for (int64_t o = 0; o < out_; ++o) y[t * out_ + o] = static_cast<float>(s.acc[t * out_ + o]) / denom;
  }
}

}  // namespace mmfree
