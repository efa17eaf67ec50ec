#pragma once
// The channel mixer: a GLU of two BitLinear layers, x -> down(silu(gate) * v), [gate, v] = gate_proj(x).
#include <cstdint>
#include <vector>

#include "model/bitlinear.h"
#include "model/weight_source.h"

namespace mmfree {

struct GluScratch {
  std::vector<float> gv;  // [rows][2I]
  std::vector<float> z;   // [rows][I]
  void reserve(int64_t rows, int64_t I);
};

class Glu {
 public:
  Glu() = default;
  Glu(const WeightSource& w, int64_t layer);

  // m: [n][d] normalised input; writes out [n][d].
  void forward(const float* m, int64_t n, float* out, GluScratch& s, BitLinearScratch& bs, const ComputeContext& c = {}) const;
  int64_t weight_bytes() const { return gate_.weight_bytes() + down_.weight_bytes(); }
  // Decode order (BitLinear::set_next): its first product, and what follows its last one.
  std::vector<TernaryMatrix> first_product() const { return {gate_.weight()}; }
  void set_next(std::vector<TernaryMatrix> next) { down_.set_next(std::move(next)); }

 private:
  int64_t I_ = 0;
  BitLinear gate_, down_;
};

}  // namespace mmfree
