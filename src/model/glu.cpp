#include "model/glu.h"

#include "model/ops.h"
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
}

void Glu::forward(const float* m, int64_t n, float* out, GluScratch& s, BitLinearScratch& bs) const {
  gate_.forward(m, n, s.gv.data(), bs);
  for (int64_t t = 0; t < n; ++t) {
    const float* gate = s.gv.data() + t * 2 * I_;  // the first I outputs are the gate
    const float* v = gate + I_;
    for (int64_t c = 0; c < I_; ++c) s.z[t * I_ + c] = siluf(gate[c]) * v[c];
  }
  down_.forward(s.z.data(), n, out, bs);
}

}  // namespace mmfree
