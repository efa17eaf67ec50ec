#include "model/bitlinear.h"

namespace mmfree {

Buffer upload_floats(Backend& be, std::span<const float> v) {
  Buffer b = be.alloc(static_cast<int64_t>(v.size_bytes()));
  be.write(b.as<void>(), v.data(), static_cast<int64_t>(v.size_bytes()));
  return b;
}

BitLinear::BitLinear(Backend& be, const PackedLinear& p, ModelVector norm)
    : w_(be.upload_matrix(p.weight(), p.weight_scale())),
      host_bytes_(be.host_memory() ? p.owned_bytes() : nullptr),
      norm_(norm),
      weight_bytes_(p.weight_bytes()) {}

BitLinear::BitLinear(Backend& be, const Parameter& weight, ModelVector norm, bool identity_quantizers)
    : w_(be.trainable_matrix(weight.shape.at(0), weight.shape.at(1), identity_quantizers)),
      norm_(norm),
      latent_(weight.value_mem),
      identity_(identity_quantizers),
      weight_grad_(weight.grad_mem),
      weight_bytes_(static_cast<int64_t>(weight.value.size_bytes())) {}

void BitLinear::forward(Backend& be, const BitLinearInput& in, int64_t n, float* y, void* keep_xq) const {
  const BitLinearCall c = call(y, keep_xq);
  be.bitlinear({&c, 1}, in, n);
}

void BitLinear::requantize(Backend& be) const { be.ternarize(*w_, latent_); }

void BitLinear::backward(Backend& be, const float* m, const float* dy, int64_t n, float* dm, bool accumulate,
                         const GluBackward* glu, const void* xq) const {
  be.bitlinear_backward(backward_call(m, dy, n, dm, accumulate, glu, xq));
}

BitLinearBackward BitLinear::backward_call(const float* m, const float* dy, int64_t n, float* dm, bool accumulate,
                                           const GluBackward* glu, const void* xq) const {
  return {.w = w_.get(), .norm = norm_.value, .m = m, .dy = dy, .n = n, .dm = dm, .accumulate = accumulate,
          .dw = weight_grad_, .dnorm = norm_.grad, .glu = glu, .xq = xq};
}

}  // namespace mmfree
