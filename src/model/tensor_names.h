#pragma once
// The tensors an hgrn_bit checkpoint holds, with their names as stored and their shapes.
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace mmfree {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

std::vector<TensorSpec> expected_tensors(const ModelConfig& c);

// The BitLinear projections of one layer, in the order the model applies them.
inline constexpr const char* kAttnProjections[] = {"i_proj", "f_proj", "g_proj", "o_proj"};

std::string layer_prefix(int64_t l);  // "model.layers.{l}."

}  // namespace mmfree
