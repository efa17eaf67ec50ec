#pragma once
// The GLU channel mixer for training: x -> down(silu(gate) * v), [gate, v] = gate_proj(x).
#include <cstdint>
#include <vector>

#include "train/bitlinear_train.h"
#include "train/param_layout.h"

namespace mmfree {

// What one layer's forward keeps.
struct GluActivations {
  std::vector<float> gv;  // [rows][2I]: gate_proj output, the gate first
  std::vector<float> z;   // [rows][I]: silu(gate) * v, the down_proj input
  void reserve(int64_t rows, int64_t I);
};

// Backward buffers shared by all layers.
struct GluGradScratch {
  std::vector<float> dz;   // [rows][I]
  std::vector<float> dgv;  // [rows][2I]
  void reserve(int64_t rows, int64_t I);
};

class GluTrain {
 public:
  void prepare(std::vector<Parameter>& params, const LayerIds& ids, Quantizers mode);

  // m: [n][d], out: [n][d].
  void forward(const float* m, int64_t n, GluActivations& act, float* out, BitLinearTrainScratch& bs) const;
  // dout: [n][d]; writes dm [n][d] and adds to the parameters' grads.
  void backward(const float* m, int64_t n, const GluActivations& act, const float* dout, float* dm,
                GluGradScratch& s, BitLinearTrainScratch& bs) const;

 private:
  int64_t I_ = 0;
  TrainBitLinear gate_, down_;
};

}  // namespace mmfree
