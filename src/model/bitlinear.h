#pragma once
// BitLinear (SPEC.md): RMSNorm, int8 activations, ternary weights, one integer product, one scale.
#include <cstdint>
#include <vector>

#include "format/safetensors.h"

namespace mmfree {

// Buffers one BitLinear call needs, sized once for the largest layer and row count of a model.
struct BitLinearScratch {
  std::vector<int8_t> q;     // [rows][in]
  std::vector<float> s_x;    // [rows]
  std::vector<int32_t> acc;  // [rows][out]
  void reserve(int64_t rows, int64_t max_in, int64_t max_out);
};

// Weights that are ternary already (read from a converted model file): values [out][in] in
// {-1, 0, 1} and the per-tensor scale s_w.
struct TernaryWeights {
  int64_t out = 0, in = 0;
  std::vector<int8_t> values;
  float scale = 1;
};

class BitLinear {
 public:
  BitLinear() = default;
  // Ternarises the latent full-precision weight W [out, in]; norm is the layer's RMSNorm weight [in].
  BitLinear(const TensorView& weight, const TensorView& norm);
  BitLinear(TernaryWeights w, std::vector<float> norm);

  int64_t out_features() const { return out_; }
  int64_t in_features() const { return in_; }
  float weight_scale() const { return s_w_; }
  const std::vector<int8_t>& ternary() const { return ternary_; }
  int64_t weight_bytes() const;  // what one forward call reads of this layer's weights and norm

  // y[n][out] = BitLinear(x[n][in]).
  void forward(const float* x, int64_t n, float* y, BitLinearScratch& s) const;

 private:
  int64_t out_ = 0, in_ = 0;
  std::vector<int8_t> ternary_;  // [out][in], values in {-1, 0, 1}
  float s_w_ = 1;
  std::vector<float> norm_;
};

}  // namespace mmfree
