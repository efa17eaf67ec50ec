#include "train/mlgru_train.h"

#include <algorithm>

#include "model/ops.h"
#include "train/parallel.h"
#include "train/train_ops.h"

namespace mmfree {

void MlgruActivations::reserve(int64_t rows, int64_t d) {
  const auto size = static_cast<size_t>(rows * d);
  for (auto* v : {&i, &sig_f, &g, &h, &o_in}) v->resize(size);
}

void MlgruGradScratch::reserve(int64_t rows, int64_t d) {
  const auto size = static_cast<size_t>(rows * d);
  for (auto* v : {&d_o_in, &g_normed, &d_g_normed, &dh, &dg, &di, &df_lin}) v->resize(size);
  carry.resize(static_cast<size_t>(d));
}

void MlgruTrain::prepare(std::vector<Parameter>& params, const LayerIds& ids, const float* lower_bound, float eps,
                         Quantizers mode) {
  i_.prepare(params, ids.i, mode);
  f_.prepare(params, ids.f, mode);
  g_.prepare(params, ids.g, mode);
  o_.prepare(params, ids.o, mode);
  d_ = o_.out_features();
  g_norm_ = &params.at(ids.g_norm);
  lower_bound_ = lower_bound;
  eps_ = eps;
}

void MlgruTrain::forward(const float* a, int64_t B, int64_t T, MlgruActivations& act, float* out,
                         BitLinearTrainScratch& bs) const {
  const int64_t n = B * T, d = d_;
  i_.forward(a, n, act.i.data(), bs);
  f_.forward(a, n, act.sig_f.data(), bs);
  g_.forward(a, n, act.g.data(), bs);
  // The same float operations, in the same order, as the inference Mlgru; channels are independent.
  const float* lb = lower_bound_;
  parallel_for(d, min_rows_per_part(n), [&](int64_t c0, int64_t c1, int) {
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < T; ++t) {
        const int64_t r = (b * T + t) * d;
        for (int64_t c = c0; c < c1; ++c) {
          const float s = sigmoidf(act.sig_f[r + c]);
          act.sig_f[r + c] = s;
          const float f = lb ? lb[c] + (1.0f - lb[c]) * s : s;
          const float h_prev = t > 0 ? act.h[r - d + c] : 0.0f;
          act.h[r + c] = f * h_prev + siluf(act.i[r + c]) * (1.0f - f);
        }
      }
    }
  });
  rmsnorm_rows_parallel(act.g.data(), g_norm_->value.data(), n, d, eps_, act.o_in.data());
  parallel_for(n * d, 16384, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) act.o_in[r] *= siluf(act.h[r]);
  });
  o_.forward(act.o_in.data(), n, out, bs);
}

void MlgruTrain::backward(const float* a, int64_t B, int64_t T, const MlgruActivations& act, const float* dout,
                          float* da, float* dlb, MlgruGradScratch& s, BitLinearTrainScratch& bs) const {
  const int64_t n = B * T, d = d_;
  o_.backward(act.o_in.data(), dout, n, s.d_o_in.data(), false, bs);
  // o_in = g_normed * silu(h): split the gradient between the two factors.
  rmsnorm_rows_parallel(act.g.data(), g_norm_->value.data(), n, d, eps_, s.g_normed.data());
  parallel_for(n * d, 16384, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      const SiluAndGrad sh = silu_and_grad(act.h[r]);
      s.d_g_normed[r] = s.d_o_in[r] * sh.value;
      s.dh[r] = s.d_o_in[r] * s.g_normed[r] * sh.grad;
    }
  });
  rmsnorm_backward_rows(act.g.data(), g_norm_->value.data(), s.d_g_normed.data(), n, d, eps_, s.dg.data(), false,
                        g_norm_->grad.data());
  // h_t = f_t h_{t-1} + silu(i_t) (1 - f_t), f_t = lb + (1 - lb) sigmoid(f_lin_t), scanned backwards in
  // time; channels are independent, so each thread owns a range of them (carry and dlb included).
  const float* lb = lower_bound_;
  parallel_for(d, min_rows_per_part(n), [&](int64_t c0, int64_t c1, int) {
    for (int64_t b = 0; b < B; ++b) {
      std::fill(s.carry.begin() + c0, s.carry.begin() + c1, 0.0f);
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t r = (b * T + t) * d;
        for (int64_t c = c0; c < c1; ++c) {
          const float dh = s.dh[r + c] + s.carry[c];
          const float sg = act.sig_f[r + c];
          const float f = lb ? lb[c] + (1.0f - lb[c]) * sg : sg;
          const float h_prev = t > 0 ? act.h[r - d + c] : 0.0f;
          const SiluAndGrad si = silu_and_grad(act.i[r + c]);
          const float df = dh * (h_prev - si.value);
          s.di[r + c] = dh * (1.0f - f) * si.grad;
          s.df_lin[r + c] = df * (lb ? 1.0f - lb[c] : 1.0f) * sg * (1.0f - sg);
          if (lb) dlb[c] += df * (1.0f - sg);
          s.carry[c] = dh * f;
        }
      }
    }
  });
  i_.backward(a, s.di.data(), n, da, false, bs);
  f_.backward(a, s.df_lin.data(), n, da, true, bs);
  g_.backward(a, s.dg.data(), n, da, true, bs);
}

}  // namespace mmfree
