#pragma once
// One trainable tensor: its latent full-precision value and its gradient.
#include <cstdint>
#include <string>
#include <vector>

namespace mmfree {

struct Parameter {
  std::string name;             // as in model.safetensors, e.g. "model.layers.0.attn.i_proj.weight"
  std::vector<int64_t> shape;
  std::vector<float> value;     // latent full-precision weights
  std::vector<float> grad;      // same size; accumulated by forward_backward
};

}  // namespace mmfree
