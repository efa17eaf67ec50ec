#include "model/mlgru.h"

#include "kernels/elementwise.h"
#include "model/tensor_names.h"

namespace mmfree {

void MlgruScratch::reserve(int64_t rows, int64_t d) {
  i.resize(static_cast<size_t>(rows * d));
  f.resize(static_cast<size_t>(rows * d));
  g.resize(static_cast<size_t>(rows * d));
  f_proj.reserve(rows, d);
  g_proj.reserve(rows, d);
}

Mlgru::Mlgru(const WeightSource& w, int64_t layer, std::vector<float> lower_bound)
    : d_(w.config().hidden_size),
      eps_(static_cast<float>(w.config().rms_norm_eps)),
      g_norm_(w.floats(layer_prefix(layer) + "attn.g_norm.weight")),
      lower_bound_(std::move(lower_bound)) {
  const std::string p = layer_prefix(layer) + "attn.";
  i_ = w.bitlinear(p + "i_proj");
  f_ = w.bitlinear(p + "f_proj");
  g_ = w.bitlinear(p + "g_proj");
  o_ = w.bitlinear(p + "o_proj");
  g_.set_next({o_.weight()});  // g is the last of the i, f, g product
}

int64_t Mlgru::weight_bytes() const {
  return i_.weight_bytes() + f_.weight_bytes() + g_.weight_bytes() + o_.weight_bytes() +
         static_cast<int64_t>(g_norm_.size() * sizeof(float)) + static_cast<int64_t>(lower_bound_.size() * sizeof(float));
}

void Mlgru::forward(const float* a, int64_t B, int64_t T, float* h, int64_t h_stride, float* out, MlgruScratch& s,
                    BitLinearScratch& bs, const ComputeContext& c) const {
  const int64_t n = B * T, d = d_;
  // The reference path runs the reference formulas; Isa::Scalar selects them in elementwise.h.
  const Isa isa = c.reference ? Isa::Scalar : c.isa;
  ThreadPool* pool = c.reference ? nullptr : c.pool;
  // i, f and g read the same input: one parallel pass over their rows.
  const BitLinear* const layers[] = {&i_, &f_, &g_};
  float* const ys[] = {s.i.data(), s.f.data(), s.g.data()};
  BitLinearScratch* const scratch[] = {&bs, &s.f_proj, &s.g_proj};
  forward_shared_input(layers, a, n, ys, scratch, c);
  // Gates, then the recurrence h_t = f_t * h_{t-1} + silu(i_t) * (1 - f_t), in time order per
  // sequence; i's buffer then holds h_t for the output gate below.
  const float* lb = lower_bound_.empty() ? nullptr : lower_bound_.data();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const int64_t r = (b * T + t) * d;
      mlgru_step(isa, s.i.data() + r, s.f.data() + r, lb, d, h + b * h_stride, s.i.data() + r);
    }
  // o = o_proj(RMSNorm(g) * g_norm * silu(h))
  rmsnorm(isa, s.g.data(), g_norm_.data(), n, d, eps_, s.g.data(), pool);
  silu_mul(isa, s.i.data(), s.g.data(), n, d, d, s.g.data(), d, pool);
  o_.forward(s.g.data(), n, out, bs, c);
}

}  // namespace mmfree
