#include "model/glu.h"

#include "model/tensor_names.h"

namespace mmfree {

GluScratch::GluScratch(Backend& be, int64_t rows, int64_t I) : gv(be.alloc(rows * 2 * I * 4)) {}

Glu::Glu(Backend& be, const WeightSource& w, int64_t layer) : I_(w.config().intermediate_size) {
  const std::string p = layer_prefix(layer) + "mlp.";
  gate_ = BitLinear(be, w.bitlinear(p + "gate_proj"));
  down_ = BitLinear(be, w.bitlinear(p + "down_proj"));
}

void Glu::forward(Backend& be, const BitLinearInput& in, int64_t n, float* out, GluScratch& s) const {
  float* gv = s.gv.as<float>();
  gate_.forward(be, in, n, gv);
  // down(silu(gate) * v) per row: the first I outputs are the gate, the next I are v.
  down_.forward(be, BitLinearInput{.kind = BitLinearInput::Kind::Glu, .x = gv, .ld = 2 * I_}, n, out);
}

}  // namespace mmfree
