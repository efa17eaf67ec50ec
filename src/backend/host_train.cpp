// The training ops of the host backends (ref, cpu), written once on their three primitives (gemm,
// quantize_rows, run_parts). Rows are split into parts fixed by their count, and partial sums are
// reduced in part order, so a result depends on the thread count only.
#include <algorithm>
#include <cmath>

#include "backend/host_backend.h"
#include "kernels/train_quant.h"
#include "model/ops.h"
#include "util/error.h"

namespace mmfree {

namespace {

constexpr float kBitLinearEps = 1e-6f;  // SPEC.md: the fused kernel's default, not the module's 1e-8

// Below about 16K floats a part costs more than it saves.
int64_t min_rows_per_part(int64_t row_size) { return row_size >= 16384 ? 1 : 16384 / std::max<int64_t>(row_size, 1); }

// silu(x) = x s and its derivative s (1 + x (1 - s)), s = sigmoid(x): one exp for both.
struct SiluAndGrad {
  float value, grad;
};
SiluAndGrad silu_and_grad(float x) {
  const float s = sigmoidf(x);
  return {x * s, s * (1.0f + x * (1.0f - s))};
}

void rmsnorm_backward_range(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, float* dx,
                            bool accumulate, float* dw) {
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * k;
    const float* dyr = dy + t * k;
    float* dxr = dx + t * k;
    const float rstd = rms_rstd(xr, k, eps);
    double dot = 0;  // sum of xhat * w * dy
    for (int64_t i = 0; i < k; ++i) {
      const float xhat = xr[i] * rstd;
      dw[i] += dyr[i] * xhat;
      dot += static_cast<double>(xhat) * w[i] * dyr[i];
    }
    const float c = static_cast<float>(dot / static_cast<double>(k));
    for (int64_t i = 0; i < k; ++i) {
      const float g = (w[i] * dyr[i] - xr[i] * rstd * c) * rstd;
      dxr[i] = accumulate ? dxr[i] + g : g;
    }
  }
}

// Turns one row of logits into d(coef * NLL)/d(logits) in place; returns the NLL of `label`.
double softmax_nll_row(float* z, int64_t V, int64_t label, float coef) {
  const float mx = *std::max_element(z, z + V);
  const float z_label = z[label];
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += z[v] = std::exp(z[v] - mx);
  const float scale = static_cast<float>(coef / sum);
  for (int64_t v = 0; v < V; ++v) z[v] *= scale;
  z[label] -= coef;
  return static_cast<double>(mx) + std::log(sum) - static_cast<double>(z_label);
}

}  // namespace

bool is_trainable(const BackendMatrix& w) { return dynamic_cast<const HostTrainableMatrix*>(&w) != nullptr; }

std::unique_ptr<BackendMatrix> HostBackend::trainable_matrix(int64_t rows, int64_t cols, bool identity) {
  auto m = std::make_unique<HostTrainableMatrix>();
  m->rows = rows;
  m->cols = cols;
  m->identity = identity;
  m->w.resize(static_cast<size_t>(rows * cols));
  return m;
}

void HostBackend::ternarize(BackendMatrix& w, const float* latent) {
  auto& m = dynamic_cast<HostTrainableMatrix&>(w);
  if (m.identity) {
    std::copy_n(latent, m.w.size(), m.w.data());
    m.s_w = 1;
    return;
  }
  m.s_w = ternarize_to_float(latent, m.rows * m.cols, m.w.data());
}

void HostBackend::reserve_training(int64_t rows, int64_t max_cols) {
  train_rows_ = std::max(train_rows_, rows);
  train_cols_ = std::max(train_cols_, max_cols);
  const auto size = static_cast<size_t>(train_rows_ * train_cols_);
  xq_.resize(size);
  du_.resize(size);
  s_x_.resize(static_cast<size_t>(train_rows_));
  carry_.resize(static_cast<size_t>(train_cols_));
  partial_.resize(static_cast<size_t>(max_parts() * train_cols_));
}

void HostBackend::train_products(std::span<const BitLinearCall> calls, const float* m, int64_t n) {
  for (const BitLinearCall& c : calls) {
    const auto& w = static_cast<const HostTrainableMatrix&>(*c.w);
    const int64_t k = w.cols, out = w.rows;
    if (n > train_rows_ || k > train_cols_) throw Error("internal: host backend training scratch too small");
    if (w.identity) {
      dequantized_input(m, c.norm, n, k, true);
      gemm(false, true, n, out, k, 1.0f, xq_.data(), k, w.w.data(), k, 0.0f, c.y, out);
      continue;
    }
    quantize_rows(m, c.norm, n, k, xq_.data(), s_x_.data());
    if (c.keep_xq) divide_by_scales(n, k, static_cast<float*>(c.keep_xq));  // for BitLinearBackward::xq
    // Integer-valued operands (|q| <= 128, T in {-1, 0, 1}) and sums below 2^24 for k < 131072: the
    // float product is the exact integer product in any summation order.
    gemm(false, true, n, out, k, 1.0f, xq_.data(), k, w.w.data(), k, 0.0f, c.y, out);
    run_parts(n, min_rows_per_part(out), [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) {
        const float denom = s_x_[t] * w.s_w;
        float* row = c.y + t * out;
        for (int64_t o = 0; o < out; ++o) row[o] /= denom;
      }
    });
  }
}

void HostBackend::dequantized_input(const float* m, const float* w, int64_t n, int64_t k, bool identity) {
  if (identity) {
    run_parts(n, min_rows_per_part(k), [&](int64_t b, int64_t e, int) {
      rmsnorm_rows(m + b * k, w, e - b, k, kBitLinearEps, xq_.data() + b * k);
    });
    return;
  }
  quantize_rows(m, w, n, k, xq_.data(), s_x_.data());
  divide_by_scales(n, k, xq_.data());
}

void HostBackend::divide_by_scales(int64_t n, int64_t k, float* out) {
  run_parts(n, min_rows_per_part(k), [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const float* q = xq_.data() + t * k;
      float* row = out + t * k;
      const float sx = s_x_[t];
      for (int64_t i = 0; i < k; ++i) row[i] = q[i] / sx;
    }
  });
}

void HostBackend::bitlinear_backward(const BitLinearBackward& b) {
  const auto& w = dynamic_cast<const HostTrainableMatrix&>(*b.w);
  const int64_t k = w.cols, out = w.rows;
  if (b.n > train_rows_ || k > train_cols_) throw Error("internal: host backend training scratch too small");
  const float* dy = glu_dy(b);
  const float* xq = w.identity ? nullptr : static_cast<const float*>(b.xq);  // as the forward kept it
  if (!xq) {
    dequantized_input(b.m, b.norm, b.n, k, w.identity);
    xq = xq_.data();
  }
  gemm(true, false, out, k, b.n, 1.0f, dy, out, xq, k, 1.0f, b.dw, k);
  gemm(false, false, b.n, k, out, 1.0f / w.s_w, dy, out, w.w.data(), k, 0.0f, du_.data(), k);
  rmsnorm_backward(b.m, b.norm, du_.data(), b.n, k, kBitLinearEps, b.dm, b.accumulate, b.dnorm);
}

void HostBackend::rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps,
                                   float* dx, bool accumulate, float* dw) {
  if (k > train_cols_) throw Error("internal: host backend training scratch too small");
  // Part 0 adds into dw, the others into partial sums added after it in part order.
  const int parts = run_parts(n, min_rows_per_part(k), [&](int64_t b, int64_t e, int part) {
    float* into = dw;
    if (part > 0) {
      into = partial_.data() + part * k;
      std::fill_n(into, k, 0.0f);
    }
    rmsnorm_backward_range(x + b * k, w, dy + b * k, e - b, k, eps, dx + b * k, accumulate, into);
  });
  for (int part = 1; part < parts; ++part)
    for (int64_t i = 0; i < k; ++i) dw[i] += partial_[part * k + i];
}

void HostBackend::gated_backward(const GatedBackward& g) {
  const int64_t n = g.n, d = g.d;
  if (n > train_rows_ || d > train_cols_) throw Error("internal: host backend training scratch too small");
  // m = normed * silu(h): split the gradient between the two factors (normed recomputed in xq_).
  float *normed = xq_.data(), *d_normed = du_.data();
  run_parts(n, min_rows_per_part(d), [&](int64_t b, int64_t e, int) {
    rmsnorm_rows(g.g + b * d, g.w, e - b, d, g.eps, normed + b * d);
    for (int64_t r = b * d; r < e * d; ++r) {
      const SiluAndGrad sh = silu_and_grad(g.h[r]);
      d_normed[r] = g.dm[r] * sh.value;
      g.dh[r] = g.dm[r] * normed[r] * sh.grad;
    }
  });
  rmsnorm_backward(g.g, g.w, d_normed, n, d, g.eps, g.dg, false, g.dw);
}

void HostBackend::glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv) {
  run_parts(n, min_rows_per_part(I), [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const float* gate = gv + t * 2 * I;
      const float* v = gate + I;
      const float* dz = dm + t * I;
      float* dgate = dgv + t * 2 * I;
      float* dv = dgate + I;
      for (int64_t c = 0; c < I; ++c) {
        const SiluAndGrad sg = silu_and_grad(gate[c]);
        dgate[c] = dz[c] * v[c] * sg.grad;
        dv[c] = dz[c] * sg.value;
      }
    }
  });
}

void HostBackend::mlgru_scan_backward(const MlgruScanBackward& s) {
  // h_t = f_t h_{t-1} + silu(i_t) (1 - f_t), f_t = lb + (1 - lb) sigmoid(f_lin_t), scanned backwards
  // in time; channels are independent, so each part owns a range of them (carry and dlb included).
  const int64_t d = s.d, T = s.T;
  if (d > train_cols_) throw Error("internal: host backend training scratch too small");
  const float* lb = s.lb;
  run_parts(d, min_rows_per_part(s.B * T), [&](int64_t c0, int64_t c1, int) {
    float* carry = carry_.data();
    for (int64_t b = 0; b < s.B; ++b) {
      std::fill(carry + c0, carry + c1, 0.0f);
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t r = (b * T + t) * d;
        for (int64_t c = c0; c < c1; ++c) {
          const float dh = s.dh[r + c] + carry[c];
          const float sg = sigmoidf(s.f_lin[r + c]);
          const float f = lb ? lb[c] + (1.0f - lb[c]) * sg : sg;
          const float h_prev = t > 0 ? s.h[r - d + c] : 0.0f;
          const SiluAndGrad si = silu_and_grad(s.i[r + c]);
          const float df = dh * (h_prev - si.value);
          s.di[r + c] = dh * (1.0f - f) * si.grad;
          s.df_lin[r + c] = df * (lb ? 1.0f - lb[c] : 1.0f) * sg * (1.0f - sg);
          if (lb) s.dlb[c] += df * (1.0f - sg);
          carry[c] = dh * f;
        }
      }
    }
  });
}

void HostBackend::embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable) {
  for (int64_t r = 0; r < n; ++r) {
    float* row = dtable + static_cast<int64_t>(tokens[r]) * d;
    const float* g = dx + r * d;
    for (int64_t c = 0; c < d; ++c) row[c] += g[c];
  }
}

double HostBackend::cross_entropy(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef) {
  partial_sums_.resize(std::max(partial_sums_.size(), static_cast<size_t>(max_parts())));
  const int parts = run_parts(n, min_rows_per_part(V), [&](int64_t b, int64_t e, int part) {
    double nll = 0;
    for (int64_t r = b; r < e; ++r) {
      float* z = logits + r * V;
      if (labels[r] < 0) {  // unlabelled: no loss, no gradient
        std::fill(z, z + V, 0.0f);
        continue;
      }
      nll += softmax_nll_row(z, V, labels[r], coef);
    }
    partial_sums_[part] = nll;
  });
  double total = 0;
  for (int part = 0; part < parts; ++part) total += partial_sums_[part];
  return total;
}

void HostBackend::adamw(const AdamWUpdate& u) {
  run_parts(u.n, 16384, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const float g = u.g[i] * u.grad_scale;
      if (u.decay != 1.0f) u.p[i] *= u.decay;
      u.m[i] += u.one_minus_b1 * (g - u.m[i]);
      u.v[i] = u.v[i] * u.b2 + u.one_minus_b2 * g * g;
      const float denom = std::sqrt(u.v[i]) / u.bc2_sqrt + u.eps;
      u.p[i] += (-u.step_size * u.m[i]) / denom;  // addcdiv: self + value * t1 / t2
    }
  });
}

double HostBackend::sum_squares(const float* x, int64_t n) {
  partial_sums_.resize(std::max(partial_sums_.size(), static_cast<size_t>(max_parts())));
  const int parts = run_parts(n, 1 << 16, [&](int64_t b, int64_t e, int part) {
    double sq = 0;
    for (int64_t i = b; i < e; ++i) sq += static_cast<double>(x[i]) * x[i];
    partial_sums_[part] = sq;
  });
  double total = 0;
  for (int part = 0; part < parts; ++part) total += partial_sums_[part];
  return total;
}

}  // namespace mmfree
