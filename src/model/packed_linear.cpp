#include "model/packed_linear.h"

#include "kernels/ternary_ref.h"
#include "util/error.h"

namespace mmfree {

PackedLinear::PackedLinear(const TensorView& weight, const TensorView& norm) : norm_(norm.to_f32()) {
  const int64_t out = weight.shape.at(0), in = weight.shape.at(1);
  std::vector<int8_t> t(static_cast<size_t>(out * in));
  s_w_ = ternarize_ref(weight.to_f32().data(), out * in, t.data());
  const TernaryFormat f = default_format(in);
  // Cache-line aligned, as in a model file: the kernels' loads then never straddle two lines.
  auto bytes = std::make_shared<AlignedBuffer<uint8_t>>(static_cast<size_t>(format_matrix_bytes(f, out, in)));
  pack_ternary(f, t.data(), out, in, 1.0f / s_w_, bytes->data());
  w_ = TernaryMatrix{f, bytes->data(), out, in};
  owned_ = std::move(bytes);
}

PackedLinear::PackedLinear(const TernaryMatrix& weight, float s_w, std::vector<float> norm)
    : w_(weight), s_w_(s_w), norm_(std::move(norm)) {
  check(weight.data && weight.rows > 0 && format_fits(weight.format, weight.cols),
        "BitLinear: packed weight has no data or an impossible shape");
  check(static_cast<int64_t>(norm_.size()) == weight.cols, "BitLinear: norm has " + std::to_string(norm_.size()) +
                                                               " values for " + std::to_string(weight.cols) + " inputs");
}

int64_t PackedLinear::weight_bytes() const {
  // The kernels read every row's codes (TQ2_0_R8's d values, after them, are never read).
  return w_.rows * w_.row_bytes() + static_cast<int64_t>(norm_.size() * sizeof(float));
}

std::vector<int8_t> PackedLinear::ternary() const {
  std::vector<int8_t> t(static_cast<size_t>(w_.rows * w_.cols));
  unpack_ternary(w_, t.data());
  return t;
}

}  // namespace mmfree
