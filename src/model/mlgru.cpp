#include "model/mlgru.h"

#include "model/tensor_names.h"

namespace mmfree {

MlgruScratch::MlgruScratch(Backend& be, int64_t rows, int64_t d)
    : i(be.alloc(rows * d * 4)), f(be.alloc(rows * d * 4)), g(be.alloc(rows * d * 4)) {}

MlgruGrads::MlgruGrads(float* scratch, int64_t rows, int64_t d)
    : d_o_in(scratch),
      dh(scratch + rows * d),
      dg(scratch + 2 * rows * d),
      di(scratch + 3 * rows * d),
      df(scratch + 4 * rows * d) {}

Mlgru::Mlgru(LayerWeights& w, int64_t layer, const ModelConfig& c, const float* lower_bound)
    : d_(c.hidden_size), eps_(static_cast<float>(c.rms_norm_eps)), lower_bound_(lower_bound) {
  const std::string p = layer_prefix(layer) + "attn.";
  i_ = w.bitlinear(p + "i_proj");
  f_ = w.bitlinear(p + "f_proj");
  g_ = w.bitlinear(p + "g_proj");
  o_ = w.bitlinear(p + "o_proj");
  g_norm_ = w.vector(p + "g_norm.weight");
}

int64_t Mlgru::weight_bytes() const {
  return i_.weight_bytes() + f_.weight_bytes() + g_.weight_bytes() + o_.weight_bytes() +
         (lower_bound_ ? 2 : 1) * d_ * static_cast<int64_t>(sizeof(float));
}

void Mlgru::requantize(Backend& be) const {
  for (const BitLinear* b : {&i_, &f_, &g_, &o_}) b->requantize(be);
}

void Mlgru::forward(Backend& be, const BitLinearInput& in, int64_t B, int64_t T, const StateSlots& st,
                    int64_t layer_offset, float* out, const MlgruBuffers& buf) const {
  const int64_t n = B * T;
  // i, f and g read the same input: one pass.
  const BitLinearCall calls[] = {i_.call(buf.i, buf.xq_i), f_.call(buf.f, buf.xq_f), g_.call(buf.g, buf.xq_g)};
  BitLinearInput ifg = in;
  ifg.keep_m = buf.a;
  be.bitlinear(calls, ifg, n);
  mix(be, B, T, st, layer_offset, out, buf);
}

void Mlgru::mix(Backend& be, int64_t B, int64_t T, const StateSlots& st, int64_t layer_offset, float* out,
                const MlgruBuffers& buf) const {
  const int64_t n = B * T, d = d_;
  // h_t = f_t * h_{t-1} + silu(i_t) * (1 - f_t) per sequence in time order, then
  // o = o_proj(silu(h) * RMSNorm(g) * g_norm).
  MlgruScan scan{buf.i, buf.f, lower_bound_, B, T, d, st.states + layer_offset, st.slots, st.slot_stride, buf.i};
  using Kind = BitLinearInput::Kind;
  if (!buf.keeps()) {  // the recurrence fused into o_proj's input (h may go over i)
    o_.forward(be, {.kind = Kind::Recurrent, .x = buf.g, .ld = d, .w = g_norm_.value, .eps = eps_, .scan = &scan}, n, out);
    return;
  }
  scan.h_out = buf.h;
  be.mlgru_scan(scan);
  o_.forward(be, {.kind = Kind::Gated, .x = buf.g, .ld = d, .h = buf.h, .w = g_norm_.value, .eps = eps_, .keep_m = buf.o_in},
             n, out, buf.xq_o);
}

void Mlgru::form_o_in(Backend& be, int64_t n, const MlgruBuffers& buf) const {
  be.form_input({.kind = BitLinearInput::Kind::Gated, .x = buf.g, .ld = d_, .h = buf.h, .w = g_norm_.value, .eps = eps_,
                 .keep_m = buf.o_in},
                n, d_);
}

void Mlgru::backward(Backend& be, int64_t B, int64_t T, const MlgruBuffers& buf, const float* dout, float* da,
                     float* dlb, const MlgruGrads& s) const {
  const int64_t n = B * T, d = d_;
  float *d_o_in = s.d_o_in, *dh = s.dh, *dg = s.dg, *di = s.di, *df = s.df;
  o_.backward(be, buf.o_in, dout, n, d_o_in, false, nullptr, buf.xq_o);
  // di, df and dg are read by i, f and g's backwards alone: formed for their GEMMs where they can.
  const bool formed_g = g_.takes_formed_dy(be, n), formed_if = i_.takes_formed_dy(be, n) && f_.takes_formed_dy(be, n);
  be.gated_backward({.h = buf.h, .g = buf.g, .w = g_norm_.value, .dm = d_o_in, .n = n, .d = d, .eps = eps_, .dh = dh,
                     .dg = dg, .dw = g_norm_.grad, .formed = formed_g});
  be.mlgru_scan_backward({.i = buf.i, .f_lin = buf.f, .h = buf.h, .lb = lower_bound_, .dh = dh, .B = B, .T = T, .d = d,
                          .di = di, .df_lin = df, .dlb = lower_bound_ ? dlb : nullptr, .formed = formed_if});
  BitLinearBackward ifg[] = {i_.backward_call(buf.a, di, n, da, false, nullptr, buf.xq_i),
                             f_.backward_call(buf.a, df, n, da, true, nullptr, buf.xq_f),
                             g_.backward_call(buf.a, dg, n, da, true, nullptr, buf.xq_g)};
  ifg[0].dy_formed = ifg[1].dy_formed = formed_if;
  ifg[2].dy_formed = formed_g;
  be.bitlinear_backwards(ifg);
}

}  // namespace mmfree
