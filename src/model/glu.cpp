#include "model/glu.h"

#include "kernels/elementwise.h"
#include "model/tensor_names.h"

namespace mmfree {

void GluScratch::reserve(int64_t rows, int64_t I) {
  gv.resize(static_cast<size_t>(rows * 2 * I));
  z.resize(static_cast<size_t>(rows * I));
}

Glu::Glu(const WeightSource& w, int64_t layer) : I_(w.config().intermediate_size) {
  const std::string p = layer_prefix(layer) + "mlp.";
  gate_ = w.bitlinear(p + "gate_proj");
  down_ = w.bitlinear(p + "down_proj");
  gate_.set_next({down_.weight()});
}

void Glu::forward(const float* m, int64_t n, float* out, GluScratch& s, BitLinearScratch& bs, const ComputeContext& c) const {
  const Isa isa = c.reference ? Isa::Scalar : c.isa;
  gate_.forward(m, n, s.gv.data(), bs, c);
  // z = silu(gate) * v per row: the first I outputs are the gate, the next I are v.
  silu_mul(isa, s.gv.data(), s.gv.data() + I_, n, I_, 2 * I_, s.z.data(), I_, c.reference ? nullptr : c.pool);
  down_.forward(s.z.data(), n, out, bs, c);
}

}  // namespace mmfree
