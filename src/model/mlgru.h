#pragma once
// The MLGRU token mixer (SPEC.md, block l): an element-wise gated linear recurrence in place of
// attention. Its only state is h: d floats per layer.
#include <cstdint>
#include <vector>

#include "model/bitlinear.h"
#include "model/weight_source.h"

namespace mmfree {

struct MlgruScratch {
  std::vector<float> i, f, g;  // [rows][d] each
  BitLinearScratch f_proj, g_proj;  // i_proj uses the model's shared BitLinear scratch
  void reserve(int64_t rows, int64_t d);
};

class Mlgru {
 public:
  Mlgru() = default;
  Mlgru(const WeightSource& w, int64_t layer, std::vector<float> lower_bound);

  // a: [B*T][d] normalised input, rows ordered batch-major; h: [B] states of d floats, each at
  // stride h_stride; writes out [B*T][d] (the o_proj output, before the residual add).
  void forward(const float* a, int64_t B, int64_t T, float* h, int64_t h_stride, float* out, MlgruScratch& s,
               BitLinearScratch& bs, const ComputeContext& c = {}) const;
  int64_t weight_bytes() const;
  // Decode order (BitLinear::set_next): the matrices of its first product (i, f, g), and what
  // follows its last one (o).
  std::vector<TernaryMatrix> first_product() const { return {i_.weight(), f_.weight(), g_.weight()}; }
  void set_next(std::vector<TernaryMatrix> next) { o_.set_next(std::move(next)); }

 private:
  int64_t d_ = 0;
  float eps_ = 1e-6f;
  BitLinear i_, f_, g_, o_;
  std::vector<float> g_norm_;
  std::vector<float> lower_bound_;  // empty for layer 0 or when the config disables it
};

}  // namespace mmfree
