#include "train/adamw.h"

#include <cmath>

#include "util/error.h"

namespace mmfree {

bool is_no_decay_parameter(const std::string& name) {
  return name.find("norm.weight") != std::string::npos || name == "model.lower_bounds" ||
         name == "model.embeddings.weight";
}

AdamW::AdamW(ParameterArena& params, const AdamWOptions& o) : params_(&params), opt_(o) {
  Backend& be = params.backend();
  const int64_t bytes = params.size() * static_cast<int64_t>(sizeof(float));
  m_ = be.alloc(bytes);
  v_ = be.alloc(bytes);
  float *host_m = m_.as<float>(), *host_v = v_.as<float>();
  if (!be.host_memory()) {
    host_m_.resize(static_cast<size_t>(params.size()));
    host_v_.resize(static_cast<size_t>(params.size()));
    host_m = host_m_.data();
    host_v = host_v_.data();
  }
  for (const Parameter& p : params.params()) {
    m_views_.emplace_back(host_m + p.offset, p.value.size());
    v_views_.emplace_back(host_v + p.offset, p.value.size());
    const bool decay = !(o.exclude_norms_from_decay && is_no_decay_parameter(p.name)) && o.weight_decay != 0.0;
    const auto count = static_cast<int64_t>(p.value.size());
    if (!runs_.empty() && runs_.back().decay == decay)
      runs_.back().count += count;
    else
      runs_.push_back({p.offset, count, decay});
  }
}

void AdamW::download() {
  Backend& be = params_->backend();
  if (be.host_memory()) return;
  be.read(host_m_.data(), m_.as<float>(), m_.bytes());
  be.read(host_v_.data(), v_.as<float>(), v_.bytes());
}

void AdamW::upload() {
  Backend& be = params_->backend();
  if (be.host_memory()) return;
  be.write(m_.as<float>(), host_m_.data(), m_.bytes());
  be.write(v_.as<float>(), host_v_.data(), v_.bytes());
}

void AdamW::step(double lr, float grad_scale) {
  ++t_;
  // PyTorch computes the scalars in double (Python floats) and applies them to float tensors.
  const double bc1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(t_));
  AdamWUpdate u;
  u.step_size = static_cast<float>(lr / bc1);
  u.bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  u.one_minus_b1 = static_cast<float>(1.0 - opt_.beta1);
  u.b2 = static_cast<float>(opt_.beta2);
  u.one_minus_b2 = static_cast<float>(1.0 - opt_.beta2);
  u.eps = static_cast<float>(opt_.eps);
  u.grad_scale = grad_scale;
  const float decay_factor = static_cast<float>(1.0 - lr * opt_.weight_decay);
  for (const Run& r : runs_) {
    u.p = params_->values() + r.offset;
    u.g = params_->grads() + r.offset;
    u.m = m_.as<float>() + r.offset;
    u.v = v_.as<float>() + r.offset;
    u.n = r.count;
    u.decay = r.decay ? decay_factor : 1.0f;
    params_->backend().adamw(u);
  }
}

double global_grad_norm(ParameterArena& params) {
  return std::sqrt(params.backend().sum_squares(params.grads(), params.size()));
}

float clip_coefficient(double norm, double max_norm) {
  const double coef = max_norm / (norm + 1e-6);
  return coef < 1.0 ? static_cast<float>(coef) : 1.0f;
}

}  // namespace mmfree
