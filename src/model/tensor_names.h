#pragma once
// The tensors an hgrn_bit checkpoint holds, with their names as stored and their shapes.
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace mmfree {

// What a tensor is to the model, and so how a converted file stores it.
enum class TensorKind { Embeddings, LowerBounds, Norm, Ternary /* a BitLinear weight */ };

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  TensorKind kind = TensorKind::Norm;
};

std::vector<TensorSpec> expected_tensors(const ModelConfig& c);

// The BitLinear projections of one layer, in the order the model applies them.
inline constexpr const char* kAttnProjections[] = {"i_proj", "f_proj", "g_proj", "o_proj"};

std::string layer_prefix(int64_t l);  // "model.layers.{l}."

}  // namespace mmfree
