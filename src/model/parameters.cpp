#include "model/parameters.h"

#include "util/error.h"

namespace mmfree {

ParameterArena::ParameterArena(Backend& be, const std::vector<TensorSpec>& specs) : be_(&be) {
  for (const TensorSpec& spec : specs) {
    int64_t count = 1;
    for (int64_t dim : spec.shape) count *= dim;
    params_.push_back(Parameter{spec.name, spec.shape, size_, {}, {}});
    size_ += count;
  }
  check(be.host_memory(), "--device " + be.name() + ": training is not implemented on this backend yet");
  values_ = be.alloc(size_ * static_cast<int64_t>(sizeof(float)));
  grads_ = be.alloc(size_ * static_cast<int64_t>(sizeof(float)));
  for (size_t k = 0; k < params_.size(); ++k) {
    const int64_t end = k + 1 < params_.size() ? params_[k + 1].offset : size_;
    const auto count = static_cast<size_t>(end - params_[k].offset);
    params_[k].value = {values() + params_[k].offset, count};
    params_[k].grad = {grads() + params_[k].offset, count};
  }
}

Parameter& ParameterArena::operator[](const std::string& name) {
  for (auto& p : params_)
    if (p.name == name) return p;
  throw Error("no parameter named '" + name + "'");
}

const Parameter& ParameterArena::operator[](const std::string& name) const {
  return const_cast<ParameterArena&>(*this)[name];
}

}  // namespace mmfree
