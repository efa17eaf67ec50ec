#include "model/glu.h"

#include "model/tensor_names.h"

namespace mmfree {

GluScratch::GluScratch(Backend& be, int64_t rows, int64_t I) : gv(be.alloc(rows * 2 * I * 4)) {}

Glu::Glu(LayerWeights& w, int64_t layer, const ModelConfig& c) : I_(c.intermediate_size) {
  const std::string p = layer_prefix(layer) + "mlp.";
  gate_ = w.bitlinear(p + "gate_proj");
  down_ = w.bitlinear(p + "down_proj");
}

void Glu::requantize(Backend& be) const {
  gate_.requantize(be);
  down_.requantize(be);
}

void Glu::forward(Backend& be, const BitLinearInput& in, int64_t n, float* out, const GluBuffers& buf) const {
  gate(be, in, n, buf);
  // down(silu(gate) * v) per row: the first I outputs are the gate, the next I are v.
  down_.forward(be, BitLinearInput{.kind = BitLinearInput::Kind::Glu, .x = buf.gv, .ld = 2 * I_, .keep_m = buf.z}, n, out);
}

void Glu::gate(Backend& be, const BitLinearInput& in, int64_t n, const GluBuffers& buf) const {
  BitLinearInput gate_in = in;
  gate_in.keep_m = buf.m;
  gate_.forward(be, gate_in, n, buf.gv, buf.xq_m);
}

void Glu::form_z(Backend& be, int64_t n, const GluBuffers& buf) const {
  be.form_input({.kind = BitLinearInput::Kind::Glu, .x = buf.gv, .ld = 2 * I_, .keep_m = buf.z}, n, I_);
}

void Glu::backward(Backend& be, int64_t n, const GluBuffers& buf, const float* dout, float* dm, const GluGrads& s) const {
  float *dz = s.dz, *dgv = s.dgv;
  down_.backward(be, buf.z, dout, n, dz, false);
  const GluBackward glu{.gv = buf.gv, .dz = dz, .I = I_, .dgv = dgv};
  gate_.backward(be, buf.m, nullptr, n, dm, false, &glu, buf.xq_m);
}

}  // namespace mmfree
