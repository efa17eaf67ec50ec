#pragma once
// The channel mixer: a GLU of two BitLinear layers, x -> down(silu(gate) * v), [gate, v] = gate_proj(x).
#include <cstdint>

#include "model/bitlinear.h"
#include "model/weight_source.h"

namespace mmfree {

// Backend memory for one call over up to `rows` rows.
struct GluScratch {
  Buffer gv;  // [rows][2I]
  GluScratch(Backend& be, int64_t rows, int64_t I);
};

class Glu {
 public:
  Glu() = default;
  Glu(Backend& be, const WeightSource& w, int64_t layer);

  // in: the normalised input, n rows; writes out [n][d].
  void forward(Backend& be, const BitLinearInput& in, int64_t n, float* out, GluScratch& s) const;
  int64_t weight_bytes() const { return gate_.weight_bytes() + down_.weight_bytes(); }

 private:
  int64_t I_ = 0;
  BitLinear gate_, down_;
};

}  // namespace mmfree
