#include "model/glu.h"

#include "kernels/elementwise.h"
#include "model/tensor_names.h"

namespace mmfree {

void GluScratch::reserve(int64_t rows, int64_t I) {
  gv.resize(static_cast<size_t>(rows * 2 * I));
  z.resize(static_cast<size_t>(rows * I));
}

namespace {
BitLinear projection(const HfCheckpoint& ck, int64_t layer, const char* name) {
  const std::string p = layer_prefix(layer) + "mlp." + name;
  return BitLinear(ck.tensor(p + ".weight"), ck.tensor(p + ".norm.weight"));
}
}  // namespace

Glu::Glu(const HfCheckpoint& ck, int64_t layer) : Glu(projection(ck, layer, "gate_proj"), projection(ck, layer, "down_proj")) {}

Glu::Glu(BitLinear gate, BitLinear down) : I_(down.in_features()), gate_(std::move(gate)), down_(std::move(down)) {}

void Glu::forward(const float* m, int64_t n, float* out, GluScratch& s, BitLinearScratch& bs, const ComputeContext& c) const {
  const Isa isa = c.reference ? Isa::Scalar : c.isa;
  gate_.forward(m, n, s.gv.data(), bs, c);
  // z = silu(gate) * v per row: the first I outputs are the gate, the next I are v.
  silu_mul(isa, s.gv.data(), s.gv.data() + I_, n, I_, 2 * I_, s.z.data(), I_, c.reference ? nullptr : c.pool);
  down_.forward(s.z.data(), n, out, bs, c);
}

}  // namespace mmfree
