#pragma once
// The model as training sees it: every parameter as a full-precision latent tensor with a gradient
// buffer, under the checkpoint's own names. The forward pass is SPEC.md's (quantizers on) and the
// backward pass uses the straight-through estimators of SPEC.md, Training.
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace mmfree {

struct Parameter {
  std::string name;             // as in model.safetensors, e.g. "model.layers.0.attn.i_proj.weight"
  std::vector<int64_t> shape;
  std::vector<float> value;     // latent full-precision weights
  std::vector<float> grad;      // same size; accumulated by forward_backward
};

class TrainableModel {
 public:
  // From a Hugging Face directory (any of F32/BF16/F16) or a fresh random init.
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

  // config.json + model.safetensors (F32) that the original PyTorch code loads.
  void save_hf(const std::string& dir) const;

 private:
  ModelConfig cfg_;
  std::vector<Parameter> params_;
};

}  // namespace mmfree
