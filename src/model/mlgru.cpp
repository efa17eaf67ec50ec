#include "model/mlgru.h"

#include "model/ops.h"
#include "model/tensor_names.h"

namespace mmfree {

void MlgruScratch::reserve(int64_t rows, int64_t d) {
  i.resize(static_cast<size_t>(rows * d));
  f.resize(static_cast<size_t>(rows * d));
  g.resize(static_cast<size_t>(rows * d));
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
}

int64_t Mlgru::weight_bytes() const {
  return i_.weight_bytes() + f_.weight_bytes() + g_.weight_bytes() + o_.weight_bytes() +
         static_cast<int64_t>(g_norm_.size() * sizeof(float)) + static_cast<int64_t>(lower_bound_.size() * sizeof(float));
}

void Mlgru::forward(const float* a, int64_t B, int64_t T, float* h, int64_t h_stride, float* out, MlgruScratch& s,
                    BitLinearScratch& bs) const {
  const int64_t n = B * T, d = d_;
  i_.forward(a, n, s.i.data(), bs);
  f_.forward(a, n, s.f.data(), bs);
  g_.forward(a, n, s.g.data(), bs);
  // Gates, then the recurrence h_t = f_t * h_{t-1} + silu(i_t) * (1 - f_t), in time order per sequence.
  for (int64_t b = 0; b < B; ++b) {
    float* hb = h + b * h_stride;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t r = (b * T + t) * d;
      for (int64_t c = 0; c < d; ++c) {
        float f = sigmoidf(s.f[r + c]);
        if (!lower_bound_.empty()) f = lower_bound_[c] + (1.0f - lower_bound_[c]) * f;
        hb[c] = f * hb[c] + siluf(s.i[r + c]) * (1.0f - f);
        s.i[r + c] = hb[c];  // i's buffer now holds h_t for the output gate below
      }
    }
  }
  // o = o_proj(RMSNorm(g) * g_norm * silu(h))
  rmsnorm_rows(s.g.data(), g_norm_.data(), n, d, eps_, s.g.data());
  for (int64_t r = 0; r < n * d; ++r) s.g[r] *= siluf(s.i[r]);
  o_.forward(s.g.data(), n, out, bs);
}

}  // namespace mmfree
