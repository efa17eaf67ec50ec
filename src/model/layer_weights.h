#pragma once
// Where the layers find their weights on a backend, so that one constructor per layer serves both
// uses: uploaded once from a WeightSource (inference: packed ternary weights), or views of a
// ParameterArena (training: latent weights quantised again each step, with gradients).
#include <memory>
#include <string>
#include <vector>

#include "model/bitlinear.h"
#include "model/parameters.h"
#include "model/weight_source.h"

namespace mmfree {

class LayerWeights {
 public:
  virtual ~LayerWeights() = default;
  // The BitLinear of weight "<prefix>.weight" with its RMSNorm "<prefix>.norm.weight".
  virtual BitLinear bitlinear(const std::string& prefix) = 0;
  // A norm weight.
  virtual ModelVector vector(const std::string& name) = 0;
};

class UploadedWeights : public LayerWeights {
 public:
  UploadedWeights(Backend& be, std::shared_ptr<const WeightSource> source);
  BitLinear bitlinear(const std::string& prefix) override;
  ModelVector vector(const std::string& name) override;
  // A vector uploaded here and kept alive with these weights.
  const float* upload(std::span<const float> v);

 private:
  Backend* be_;
  std::shared_ptr<const WeightSource> source_;  // keeps the mapped weights and embeddings alive
  std::vector<Buffer> vectors_;
};

class ArenaWeights : public LayerWeights {
 public:
  ArenaWeights(Backend& be, ParameterArena& arena, bool identity_quantizers)
      : be_(&be), arena_(&arena), identity_(identity_quantizers) {}
  BitLinear bitlinear(const std::string& prefix) override;
  ModelVector vector(const std::string& name) override;

 private:
  Backend* be_;
  ParameterArena* arena_;
  bool identity_;
};

}  // namespace mmfree
