#pragma once
// BitLinear (SPEC.md): RMSNorm, int8 activations, ternary weights, one integer product, one
// scale, on a backend. For inference the weights are packed once (the backend's own layout); for
// training they are latent floats in a ParameterArena, quantised again each step, and the layer
// has a backward.
#include <cstdint>
#include <memory>
#include <span>

#include "backend/backend.h"
#include "model/packed_linear.h"
#include "model/parameters.h"

namespace mmfree {

// A vector of the model (a norm weight) in backend memory, and where its gradient goes (training).
struct ModelVector {
  const float* value = nullptr;
  float* grad = nullptr;
};

class BitLinear {
 public:
  BitLinear() = default;
  // Inference: the packed weights uploaded once; norm in backend memory.
  BitLinear(Backend& be, const PackedLinear& p, ModelVector norm);
  // Training: the latent weights [out][in] of `weight`, ternarised by requantize().
  BitLinear(Backend& be, const Parameter& weight, ModelVector norm, bool identity_quantizers);

  int64_t out_features() const { return w_->rows; }
  int64_t in_features() const { return w_->cols; }
  int64_t weight_bytes() const { return weight_bytes_; }

  // This layer's part of a group that reads one input (Backend::bitlinear), writing y.
  // keep_xq: BitLinearCall::keep_xq.
  BitLinearCall call(float* y, void* keep_xq = nullptr) const { return BitLinearCall{w_.get(), norm_.value, y, keep_xq}; }
  // y[n][out] = BitLinear(m), m [n][in] formed from backend memory as `in` says.
  void forward(Backend& be, const BitLinearInput& in, int64_t n, float* y, void* keep_xq = nullptr) const;

  // Training: this step's weights from the latent ones (once per step, as they change).
  void requantize(Backend& be) const;
  // Training: for y = forward(m), m [n][in] as kept: dm (written, or added to when accumulate)
  // from dy [n][out], and this layer's gradients added to.
  // glu: dy is the GLU's backward instead (BitLinearBackward::glu); xq: what forward's keep_xq kept.
  void backward(Backend& be, const float* m, const float* dy, int64_t n, float* dm, bool accumulate,
                const GluBackward* glu = nullptr, const void* xq = nullptr) const;
  // backward's call, for a group that reads one input (Backend::bitlinear_backwards).
  BitLinearBackward backward_call(const float* m, const float* dy, int64_t n, float* dm, bool accumulate,
                                  const GluBackward* glu = nullptr, const void* xq = nullptr) const;
  // Training: whether dy may reach this layer's backward in the backend's operand form
  // (BitLinearBackward::dy_formed): where the backend offers one, and the quantisers are on.
  bool takes_formed_dy(const Backend& be, int64_t n) const {
    return !identity_ && be.backward_operand_bytes(n, out_features()) > 0;
  }

 private:
  std::unique_ptr<BackendMatrix> w_;
  std::shared_ptr<const void> host_bytes_;  // what w_ reads in place on a host-memory backend
  ModelVector norm_;
  const float* latent_ = nullptr;  // training
  bool identity_ = false;          // training: identity quantisers
  float* weight_grad_ = nullptr;   // training
  int64_t weight_bytes_ = 0;
};

// Uploads a float vector (a norm weight, a lower bound) into backend memory.
Buffer upload_floats(Backend& be, std::span<const float> v);

}  // namespace mmfree
