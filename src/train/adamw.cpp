#include "train/adamw.h"

#include <cmath>

#include "util/error.h"

namespace mmfree {

bool is_no_decay_parameter(const std::string& name) {
  return name.find("norm.weight") != std::string::npos || name == "model.lower_bounds" ||
         name == "model.embeddings.weight";
}

AdamW::AdamW(const std::vector<Parameter>& params, const AdamWOptions& o) : opt_(o) {
  for (const auto& p : params) {
    m_.emplace_back(p.value.size(), 0.0f);
    v_.emplace_back(p.value.size(), 0.0f);
    decay_.push_back(!(o.exclude_norms_from_decay && is_no_decay_parameter(p.name)));
  }
}

void AdamW::step(std::vector<Parameter>& params, double lr) {
  check(params.size() == m_.size(), "internal: AdamW built for another parameter list");
  ++t_;
  // PyTorch computes the scalars in double (Python floats) and applies them to float tensors.
  const double bc1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(t_));
  const float step_size = static_cast<float>(lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float one_minus_b1 = static_cast<float>(1.0 - opt_.beta1);
  const float b2 = static_cast<float>(opt_.beta2), one_minus_b2 = static_cast<float>(1.0 - opt_.beta2);
  const float eps = static_cast<float>(opt_.eps);
  const float decay_factor = static_cast<float>(1.0 - lr * opt_.weight_decay);
  for (size_t k = 0; k < params.size(); ++k) {
    float* p = params[k].value.data();
    const float* g = params[k].grad.data();
    float* m = m_[k].data();
    float* v = v_[k].data();
    const bool decay = decay_[k] && opt_.weight_decay != 0.0;
    const size_t n = params[k].value.size();
    for (size_t i = 0; i < n; ++i) {
      if (decay) p[i] *= decay_factor;
      m[i] += one_minus_b1 * (g[i] - m[i]);
      v[i] = v[i] * b2 + one_minus_b2 * g[i] * g[i];
      const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
      p[i] += (-step_size * m[i]) / denom;  // addcdiv: self + value * t1 / t2
    }
  }
}

double global_grad_norm(const std::vector<Parameter>& params) {
  double sq = 0;
  for (const auto& p : params)
    for (float g : p.grad) sq += static_cast<double>(g) * g;
  return std::sqrt(sq);
}

double clip_grad_norm(std::vector<Parameter>& params, double max_norm) {
  const double norm = global_grad_norm(params);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    const float c = static_cast<float>(coef);
    for (auto& p : params)
      for (float& g : p.grad) g *= c;
  }
  return norm;
}

}  // namespace mmfree
