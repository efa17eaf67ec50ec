#pragma once
// The trainable parameters as one flat arena: the latent full-precision value of every tensor of
// the model, and its gradient, each one allocation in backend memory with a tensor at an offset,
// so that a backend allocates once and AdamW and clipping are passes over the whole. The host sees
// them through views: the arena itself on a backend whose memory is the host's, else a host mirror
// that download() makes current and upload() pushes back (checkpoints, init, export).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/tensor_names.h"

namespace mmfree {

struct Parameter {
  std::string name;  // as in model.safetensors, e.g. "model.layers.0.attn.i_proj.weight"
  std::vector<int64_t> shape;
  int64_t offset = 0;  // floats from the start of the arena
  float* value_mem = nullptr;  // in backend memory: what ops take
  float* grad_mem = nullptr;
  // Host views (see ParameterArena).
  std::span<float> value, grad;
};

class ParameterArena {
 public:
  // Every tensor of `specs`, in that order, zero.
  ParameterArena(Backend& be, const std::vector<TensorSpec>& specs);

  std::vector<Parameter>& params() { return params_; }
  const std::vector<Parameter>& params() const { return params_; }
  Parameter& operator[](const std::string& name);
  const Parameter& operator[](const std::string& name) const;
  int64_t size() const { return size_; }  // floats in the whole arena
  float* values() const { return values_.as<float>(); }
  float* grads() const { return grads_.as<float>(); }
  Backend& backend() const { return *be_; }

  // On a backend whose memory is not the host's: values and gradients to the host views, and the
  // host views' values back. No-ops on a host backend, where the views are the arena.
  void download();
  void upload();

 private:
  Backend* be_;
  int64_t size_ = 0;
  Buffer values_, grads_;
  std::vector<float> host_values_, host_grads_;  // the mirror, when the backend's memory is not the host's
  std::vector<Parameter> params_;
};

}  // namespace mmfree
