#include "model/parameters.h"

#include "util/error.h"

namespace mmfree {

ParameterArena::ParameterArena(Backend& be, const std::vector<TensorSpec>& specs) : be_(&be) {
  for (const TensorSpec& spec : specs) {
    int64_t count = 1;
    for (int64_t dim : spec.shape) count *= dim;
    Parameter p;
    p.name = spec.name;
    p.shape = spec.shape;
    p.offset = size_;
    params_.push_back(std::move(p));
    size_ += count;
  }
  values_ = be.alloc(size_ * static_cast<int64_t>(sizeof(float)));
  grads_ = be.alloc(size_ * static_cast<int64_t>(sizeof(float)));
  float *host_values = values(), *host_grads = grads();
  if (!be.host_memory()) {
    host_values_.resize(static_cast<size_t>(size_));
    host_grads_.resize(static_cast<size_t>(size_));
    host_values = host_values_.data();
    host_grads = host_grads_.data();
  }
  for (size_t k = 0; k < params_.size(); ++k) {
    Parameter& p = params_[k];
    const int64_t end = k + 1 < params_.size() ? params_[k + 1].offset : size_;
    const auto count = static_cast<size_t>(end - p.offset);
    p.value_mem = values() + p.offset;
    p.grad_mem = grads() + p.offset;
    p.value = {host_values + p.offset, count};
    p.grad = {host_grads + p.offset, count};
  }
}

void ParameterArena::download() {
  if (be_->host_memory()) return;
  const int64_t bytes = size_ * static_cast<int64_t>(sizeof(float));
  be_->read(host_values_.data(), values(), bytes);
  be_->read(host_grads_.data(), grads(), bytes);
}

void ParameterArena::upload() {
  if (be_->host_memory()) return;
  be_->write(values(), host_values_.data(), size_ * static_cast<int64_t>(sizeof(float)));
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
