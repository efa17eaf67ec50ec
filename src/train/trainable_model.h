#pragma once
// The model as training sees it: every parameter as a full-precision latent tensor with a gradient
// buffer, under the checkpoint's own names. The forward pass is SPEC.md's (quantizers on) and the
// backward pass uses the straight-through estimators of SPEC.md, Training.
//
// Memory: the parameters and their grads (8 bytes per parameter), plus what the forward keeps for
// the backward: about (9 d + 3 I) floats per token per layer and 32 MiB of LM-head logits, sized
// by the largest B*T seen (gradient accumulation keeps B*T per call small). Products and
// element-wise work run on the training threads (train/parallel.h: set_parallel_threads); results
// are deterministic for a given thread count.
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "train/bitlinear_train.h"
#include "train/glu_train.h"
#include "train/mlgru_train.h"
#include "train/param_layout.h"
#include "train/parameter.h"
#include "train/train_workspace.h"

namespace mmfree {

class TrainableModel {
 public:
  // From a Hugging Face directory (any of F32/BF16/F16) or a fresh random init (init_weights.h).
  static TrainableModel from_checkpoint(const std::string& hf_dir);
  static TrainableModel random_init(const ModelConfig& c, uint64_t seed);

  const ModelConfig& config() const { return cfg_; }
  std::vector<Parameter>& params() { return params_; }
  const std::vector<Parameter>& params() const { return params_; }
  Parameter& param(const std::string& name);

  // tokens [B][T]; labels are tokens shifted left, the last position of each row unlabelled.
  // Adds d(loss)/d(param) * grad_scale to every grad and returns the loss: the mean NLL over the
  // B*(T-1) labelled positions (grad_scale lets gradient accumulation average micro-batches).
  double forward_backward(const int32_t* tokens, int64_t B, int64_t T, float grad_scale = 1.0f);
  // The same loss without gradients.
  double loss(const int32_t* tokens, int64_t B, int64_t T);
  void zero_grad();

  // The logits [B][T][V] of every position, through the training forward pass.
  void logits(const int32_t* tokens, int64_t B, int64_t T, float* out);

  // Quantizers::Identity makes every BitLinear RMSNorm + a float linear layer, so that the
  // gradients are exact derivatives (gradient checks against finite differences). On by default.
  void set_quantizers(Quantizers q) { quantizers_ = q; }

  // config.json + model.safetensors (F32) that the original PyTorch code loads.
  void save_hf(const std::string& dir) const;

 private:
  TrainableModel(const ModelConfig& c, std::vector<Parameter> params);

  // Derives this step's weights (ternary codes, lower bounds) from the parameters.
  void prepare();
  // The forward pass up to the LM head input, keeping the activations the backward needs.
  void forward(const int32_t* tokens, int64_t B, int64_t T);
  void backward(const int32_t* tokens, int64_t B, int64_t T);

  ModelConfig cfg_;
  std::vector<Parameter> params_;
  ParamLayout layout_;
  Quantizers quantizers_ = Quantizers::On;
  struct Layer {
    MlgruTrain mixer;
    GluTrain mlp;
  };
  std::vector<Layer> layers_;
  TrainBitLinear lm_head_;
  std::vector<std::vector<float>> lower_bounds_;  // [L][d]: lb[l] of SPEC.md
  TrainWorkspace ws_;
};

}  // namespace mmfree
