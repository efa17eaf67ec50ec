#pragma once
// AdamW with decoupled weight decay, in PyTorch's exact order of operations (torch.optim.AdamW,
// single-tensor path), so that a run can be compared step by step with the original's optimizer.
// The moments are two arenas shaped like the parameters' (model/parameters.h), on their backend;
// a step is one Backend::adamw pass per run of parameters that share a weight-decay setting.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/parameters.h"

namespace mmfree {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1;
  // Exclude norm weights, the lower bounds and the embeddings from weight decay (the usual LM recipe);
  // off by default, as PyTorch's AdamW(model.parameters()) decays everything.
  bool exclude_norms_from_decay = false;
};

// True for the parameters that exclude_norms_from_decay leaves undecayed.
bool is_no_decay_parameter(const std::string& name);

class AdamW {
 public:
  AdamW(ParameterArena& params, const AdamWOptions& o);

  // One update of every parameter from its grad at learning rate lr:
  //   p -= lr*wd*p;  m = lerp(m, g, 1-b1);  v = b2*v + (1-b2)*g*g;
  //   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
  // with g the gradient times grad_scale (clip_coefficient's; the gradients themselves stay as they are).
  void step(double lr, float grad_scale = 1.0f);

  const AdamWOptions& options() const { return opt_; }
  int64_t steps_taken() const { return t_; }
  // The moments of each parameter, in the order of params(); exposed for checkpoints. Host views,
  // as ParameterArena's: on a backend whose memory is not the host's, a mirror that download()
  // makes current and upload() pushes back.
  const std::vector<std::span<float>>& first_moments() const { return m_views_; }
  const std::vector<std::span<float>>& second_moments() const { return v_views_; }
  void set_steps_taken(int64_t t) { t_ = t; }
  void download();
  void upload();

 private:
  ParameterArena* params_;
  AdamWOptions opt_;
  int64_t t_ = 0;
  Buffer m_, v_;
  std::vector<float> host_m_, host_v_;  // the mirror, when the backend's memory is not the host's
  std::vector<std::span<float>> m_views_, v_views_;
  struct Run {
    int64_t offset, count;
    bool decay;
  };
  std::vector<Run> runs_;  // consecutive parameters with one decay setting
};

// The L2 norm of all gradients together (accumulated in double).
double global_grad_norm(ParameterArena& params);
// What torch.nn.utils.clip_grad_norm_ scales every gradient by, given their global norm: max_norm /
// (norm + 1e-6) when that is below 1, else 1. AdamW::step applies it as it reads each gradient.
float clip_coefficient(double norm, double max_norm);

}  // namespace mmfree
