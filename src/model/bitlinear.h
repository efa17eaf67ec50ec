#pragma once
// BitLinear (SPEC.md): RMSNorm, int8 activations, ternary weights, one integer product, one
// scale, on a backend: the weights as the backend holds them, the norm in backend memory.
#include <cstdint>
#include <memory>
#include <span>

#include "backend/backend.h"
#include "model/packed_linear.h"

namespace mmfree {

class BitLinear {
 public:
  BitLinear() = default;
  BitLinear(Backend& be, const PackedLinear& p);

  int64_t out_features() const { return w_->rows; }
  int64_t in_features() const { return w_->cols; }
  int64_t weight_bytes() const { return weight_bytes_; }

  // This layer's part of a group that reads one input (Backend::bitlinear), writing y.
  BitLinearCall call(float* y) const { return BitLinearCall{w_.get(), norm_.as<float>(), y}; }
  // y[n][out] = BitLinear(m), m [n][in] formed from backend memory as `in` says.
  void forward(Backend& be, const BitLinearInput& in, int64_t n, float* y) const;

 private:
  std::unique_ptr<BackendMatrix> w_;
  std::shared_ptr<const void> host_bytes_;  // what w_ reads in place on a host-memory backend
  Buffer norm_;
  int64_t weight_bytes_ = 0;
};

// Uploads a float vector (a norm weight, a lower bound) into backend memory.
Buffer upload_floats(Backend& be, std::span<const float> v);

}  // namespace mmfree
