#pragma once
// A BitLinear's weights as loaded, on the host: the packed ternary matrix (kernels/ternary_format.h),
// its exact scale and its RMSNorm weight. The packed bytes are either owned here (packed at load
// from latent full-precision weights) or owned elsewhere, such as a mapped model file, which must
// outlive this object. A backend takes it from here (Backend::upload_matrix).
#include <cstdint>
#include <memory>
#include <vector>

#include "format/safetensors.h"
#include "kernels/ternary_format.h"
#include "util/aligned_buffer.h"

namespace mmfree {

class PackedLinear {
 public:
  PackedLinear() = default;
  // Ternarises the latent full-precision weight W [out, in] (norm: the layer's RMSNorm weight
  // [in]) and packs it: TQ2_0_R8 when in % 256 == 0, else I8.
  PackedLinear(const TensorView& weight, const TensorView& norm);
  // Uses packed bytes as they are (no copy). s_w is the exact per-tensor scale 1 / max(mean|W|, 1e-5).
  PackedLinear(const TernaryMatrix& weight, float s_w, std::vector<float> norm);

  const TernaryMatrix& weight() const { return w_; }
  float weight_scale() const { return s_w_; }
  const std::vector<float>& norm() const { return norm_; }
  std::vector<int8_t> ternary() const;  // the weights unpacked, [out][in] in {-1, 0, 1}
  int64_t weight_bytes() const;  // what one forward call reads of this layer: packed weights and norm
  // The packed bytes when this object made them (null when they belong to a mapping): a backend
  // that computes in place keeps them alive.
  std::shared_ptr<const void> owned_bytes() const { return owned_; }

 private:
  TernaryMatrix w_;
  float s_w_ = 1;
  std::vector<float> norm_;
  std::shared_ptr<const AlignedBuffer<uint8_t>> owned_;  // the packed bytes when this object made them
};

}  // namespace mmfree
