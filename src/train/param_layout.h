#pragma once
// Where each tensor of the model sits in TrainableModel's parameter list.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "train/parameter.h"

namespace mmfree {

struct BitLinearIds {
  size_t weight = 0, norm = 0;
};

struct LayerIds {
  size_t attn_norm = 0, mlp_norm = 0, g_norm = 0;
  BitLinearIds i, f, g, o, gate, down;
};

struct ParamLayout {
  size_t embeddings = 0, lower_bounds = 0, final_norm = 0;
  BitLinearIds lm_head;
  std::vector<LayerIds> layers;

  // Finds every tensor of an L-layer model by its checkpoint name.
  static ParamLayout of(const std::vector<Parameter>& params, int64_t L);
};

}  // namespace mmfree
