#include "model/layer_weights.h"

namespace mmfree {

UploadedWeights::UploadedWeights(Backend& be, std::shared_ptr<const WeightSource> source)
    : be_(&be), source_(std::move(source)) {}

const float* UploadedWeights::upload(std::span<const float> v) {
  vectors_.push_back(upload_floats(*be_, v));
  return vectors_.back().as<float>();
}

BitLinear UploadedWeights::bitlinear(const std::string& prefix) {
  const PackedLinear p = source_->bitlinear(prefix);
  return BitLinear(*be_, p, {upload(p.norm()), nullptr});
}

ModelVector UploadedWeights::vector(const std::string& name) { return {upload(source_->floats(name)), nullptr}; }

BitLinear ArenaWeights::bitlinear(const std::string& prefix) {
  return BitLinear(*be_, (*arena_)[prefix + ".weight"], vector(prefix + ".norm.weight"), identity_);
}

ModelVector ArenaWeights::vector(const std::string& name) {
  Parameter& p = (*arena_)[name];
  return {p.value_mem, p.grad_mem};
}

}  // namespace mmfree
