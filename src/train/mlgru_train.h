#pragma once
// The MLGRU token mixer for training: the forward of SPEC.md keeping what the backward needs, and
// the backward, whose recurrence runs as a reverse-time scan.
#include <cstdint>
#include <vector>

#include "train/bitlinear_train.h"
#include "train/param_layout.h"
#include "train/parameter.h"

namespace mmfree {

// What one layer's forward keeps, [rows][d] each.
struct MlgruActivations {
  std::vector<float> i;      // i_proj output
  std::vector<float> sig_f;  // sigmoid(f_proj output), before the lower bound
  std::vector<float> g;      // g_proj output
  std::vector<float> h;      // the states h_t
  std::vector<float> o_in;   // RMSNorm(g) * g_norm * silu(h): the o_proj input
  void reserve(int64_t rows, int64_t d);
};

// Backward buffers, [rows][d] each, shared by all layers.
struct MlgruGradScratch {
  std::vector<float> d_o_in, g_normed, d_g_normed, dh, dg, di, df_lin;
  std::vector<float> carry;  // [d]: dL/dh_{t} flowing back from step t+1
  void reserve(int64_t rows, int64_t d);
};

class MlgruTrain {
 public:
  // lower_bound: [d] for this layer, or nullptr (layer 0, or disabled by the config).
  void prepare(std::vector<Parameter>& params, const LayerIds& ids, const float* lower_bound, float eps,
               Quantizers mode);

  // a: [B*T][d] (batch-major rows), out: [B*T][d], the o_proj output before the residual add.
  void forward(const float* a, int64_t B, int64_t T, MlgruActivations& act, float* out,
               BitLinearTrainScratch& bs) const;
  // dout: [B*T][d]; writes da [B*T][d]; adds to the parameters' grads and, when this layer has a
  // lower bound, to dlb [d] (the gradient at lb[l]).
  void backward(const float* a, int64_t B, int64_t T, const MlgruActivations& act, const float* dout, float* da,
                float* dlb, MlgruGradScratch& s, BitLinearTrainScratch& bs) const;

 private:
  int64_t d_ = 0;
  float eps_ = 1e-6f;
  TrainBitLinear i_, f_, g_, o_;
  Parameter* g_norm_ = nullptr;
  const float* lower_bound_ = nullptr;
};

}  // namespace mmfree
