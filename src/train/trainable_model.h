#pragma once
// The model as training sees it: every parameter a full-precision latent tensor with a gradient,
// under the checkpoint's own names, in one flat arena on a backend (model/parameters.h), and the
// model's one forward and its backward (model/model.h: Model::train_pass) on them. This class
// holds them together; it computes nothing itself.
//
// Memory: parameters and grads (8 bytes per parameter), plus what the forward keeps for the
// backward: about (9 d + 3 I) floats per token per layer and 32 MiB of LM-head logits
// (TrainBuffers), made for the batch shape in use.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/config.h"
#include "model/model.h"
#include "model/parameters.h"

namespace mmfree {

// Identity quantizers turn BitLinear into RMSNorm + a float linear layer; gradient checks use them
// because the quantized forward is piecewise constant in W and x.
enum class Quantizers { On, Identity };

class TrainableModel {
 public:
  // From a Hugging Face directory (any of F32/BF16/F16) or a fresh random init (init_weights.h), on
  // the backend `device` names (threads: the cpu backend's; results depend on their count only).
  static TrainableModel from_checkpoint(const std::string& hf_dir, const DeviceOptions& device = {});
  static TrainableModel from_checkpoint(const std::string& hf_dir, std::shared_ptr<Backend> backend);
  static TrainableModel random_init(const ModelConfig& c, uint64_t seed, const DeviceOptions& device = {});
  // Every parameter zero: for a checkpoint to restore into.
  static TrainableModel zeros(const ModelConfig& c, const DeviceOptions& device = {});

  const ModelConfig& config() const { return cfg_; }
  ParameterArena& arena() { return *arena_; }
  const ParameterArena& arena() const { return *arena_; }
  std::vector<Parameter>& params() { return arena_->params(); }
  const std::vector<Parameter>& params() const { return arena_->params(); }
  Parameter& param(const std::string& name) { return (*arena_)[name]; }
  Backend& backend() const { return *be_; }

  // tokens [B][T]; labels are tokens shifted left, the last position of each row unlabelled.
  // Adds d(loss)/d(param) * grad_scale to every grad and returns the loss: the mean NLL over the
  // B*(T-1) labelled positions (grad_scale lets gradient accumulation average micro-batches).
  double forward_backward(const int32_t* tokens, int64_t B, int64_t T, float grad_scale = 1.0f);
  // The same loss without gradients.
  double loss(const int32_t* tokens, int64_t B, int64_t T);
  void zero_grad();

  // The logits [B][T][V] of every position, through the training forward pass.
  void logits(const int32_t* tokens, int64_t B, int64_t T, float* out);

  // On by default.
  void set_quantizers(Quantizers q);
  // How much the forward keeps for the backward (Recompute, model.h): less memory, the same
  // numbers. Recompute::None by default.
  void set_recompute(Recompute r);

  // config.json + model.safetensors (F32) that the original PyTorch code loads.
  void save_hf(const std::string& dir) const;

 private:
  TrainableModel(const ModelConfig& c, std::shared_ptr<Backend> backend);
  // The buffers of a B x T pass (made again when the shape changes), after this step's weights.
  TrainBuffers& prepare(int64_t B, int64_t T);

  ModelConfig cfg_;
  std::shared_ptr<Backend> be_;
  std::unique_ptr<ParameterArena> arena_;
  Quantizers quantizers_ = Quantizers::On;
  Recompute recompute_ = Recompute::None;
  std::unique_ptr<Model> model_;
  std::unique_ptr<TrainBuffers> buffers_;
};

// Positions labelled by the convention of SPEC.md: labels are the tokens shifted left by one, the
// last position of each row unlabelled.
inline int64_t labelled_positions(int64_t B, int64_t T) { return B * (T - 1); }

}  // namespace mmfree
