#include "model/mlgru.h"

#include "model/tensor_names.h"

namespace mmfree {

MlgruScratch::MlgruScratch(Backend& be, int64_t rows, int64_t d)
    : i(be.alloc(rows * d * 4)), f(be.alloc(rows * d * 4)), g(be.alloc(rows * d * 4)) {}

Mlgru::Mlgru(Backend& be, const WeightSource& w, int64_t layer, const std::vector<float>& lower_bound)
    : d_(w.config().hidden_size), eps_(static_cast<float>(w.config().rms_norm_eps)) {
  const std::string p = layer_prefix(layer) + "attn.";
  i_ = BitLinear(be, w.bitlinear(p + "i_proj"));
  f_ = BitLinear(be, w.bitlinear(p + "f_proj"));
  g_ = BitLinear(be, w.bitlinear(p + "g_proj"));
  o_ = BitLinear(be, w.bitlinear(p + "o_proj"));
  g_norm_ = upload_floats(be, w.floats(p + "g_norm.weight"));
  if (!lower_bound.empty()) lower_bound_ = upload_floats(be, lower_bound);
  lb_count_ = static_cast<int64_t>(lower_bound.size());
}

int64_t Mlgru::weight_bytes() const {
  return i_.weight_bytes() + f_.weight_bytes() + g_.weight_bytes() + o_.weight_bytes() +
         (d_ + lb_count_) * static_cast<int64_t>(sizeof(float));
}

void Mlgru::forward(Backend& be, const BitLinearInput& in, int64_t B, int64_t T, const StateSlots& st,
                    int64_t layer_offset, float* out, MlgruScratch& s) const {
  const int64_t n = B * T, d = d_;
  float *i = s.i.as<float>(), *f = s.f.as<float>(), *g = s.g.as<float>();
  // i, f and g read the same input: one pass.
  const BitLinearCall calls[] = {i_.call(i), f_.call(f), g_.call(g)};
  be.bitlinear(calls, in, n);
  // h_t = f_t * h_{t-1} + silu(i_t) * (1 - f_t) per sequence in time order (h_t may go over i), then
  // o = o_proj(silu(h) * RMSNorm(g) * g_norm).
  const MlgruScan scan{i, f, lb_count_ ? lower_bound_.as<float>() : nullptr, B, T, d, st.states + layer_offset,
                       st.slots, st.slot_stride, i};
  o_.forward(be, {.kind = BitLinearInput::Kind::Recurrent, .x = g, .ld = d, .w = g_norm_.as<float>(), .eps = eps_, .scan = &scan},
             n, out);
}

}  // namespace mmfree
