#pragma once
// Everything one forward_backward keeps or works in, for up to `rows` = B*T rows: sized on the
// first step of a shape and reused by every later step.
#include <cstdint>
#include <vector>

#include "model/config.h"
#include "train/bitlinear_train.h"
#include "train/glu_train.h"
#include "train/lm_loss.h"
#include "train/mlgru_train.h"

namespace mmfree {

struct LayerActivations {
  std::vector<float> x_in;   // [rows][d]: the residual stream entering the layer
  std::vector<float> a;      // [rows][d]: RMSNorm(x_in) * attn_norm
  std::vector<float> x_mid;  // [rows][d]: after the token mixer's residual add
  std::vector<float> m;      // [rows][d]: RMSNorm(x_mid) * mlp_norm
  MlgruActivations mixer;
  GluActivations mlp;
};

struct TrainWorkspace {
  int64_t rows = 0;
  std::vector<LayerActivations> layers;
  std::vector<float> x_final;       // [rows][d]: the residual stream after the last layer
  std::vector<float> final_normed;  // [rows][d]: RMSNorm(x_final) * model.norm, the LM head input
  std::vector<float> branch;        // [rows][d]: a mixer's output before its residual add
  // Backward.
  std::vector<float> dx;            // [rows][d]: gradient at the residual stream
  std::vector<float> d_branch;      // [rows][d]: gradient at a norm output
  std::vector<float> dlb;           // [L][d]: gradient at the lower bounds lb[l]
  MlgruGradScratch mixer_grad;
  GluGradScratch mlp_grad;
  BitLinearTrainScratch bitlinear;
  LmLossScratch lm;

  // Grows the buffers to hold `rows` rows (never shrinks them).
  void reserve(const ModelConfig& c, int64_t rows);
};

}  // namespace mmfree
