#pragma once
// The channel mixer: a GLU of two BitLinear layers, x -> down(silu(gate) * v), [gate, v] = gate_proj(x).
#include <cstdint>
#include <vector>

#include "format/hf_checkpoint.h"
#include "model/bitlinear.h"

namespace mmfree {

struct GluScratch {
  std::vector<float> gv;  // [rows][2I]
  std::vector<float> z;   // [rows][I]
  void reserve(int64_t rows, int64_t I);
};

class Glu {
 public:
  Glu() = default;
  Glu(const HfCheckpoint& ck, int64_t layer);
  Glu(BitLinear gate, BitLinear down);  // gate: [2I, d], down: [d, I]

  // m: [n][d] normalised input; writes out [n][d].
  void forward(const float* m, int64_t n, float* out, GluScratch& s, BitLinearScratch& bs, const ComputeContext& c = {}) const;

 private:
  int64_t I_ = 0;
  BitLinear gate_, down_;
};

}  // namespace mmfree
