#include "train/glu_train.h"

#include "model/ops.h"
#include "train/parallel.h"
#include "train/train_ops.h"

namespace mmfree {

void GluActivations::reserve(int64_t rows, int64_t I) {
  gv.resize(static_cast<size_t>(rows * 2 * I));
  z.resize(static_cast<size_t>(rows * I));
}

void GluGradScratch::reserve(int64_t rows, int64_t I) {
  dz.resize(static_cast<size_t>(rows * I));
  dgv.resize(static_cast<size_t>(rows * 2 * I));
}

void GluTrain::prepare(std::vector<Parameter>& params, const LayerIds& ids, Quantizers mode) {
  gate_.prepare(params, ids.gate, mode);
  down_.prepare(params, ids.down, mode);
  I_ = down_.in_features();
}

void GluTrain::forward(const float* m, int64_t n, GluActivations& act, float* out, BitLinearTrainScratch& bs) const {
  gate_.forward(m, n, act.gv.data(), bs);
  parallel_for(n, min_rows_per_part(I_), [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const float* gate = act.gv.data() + t * 2 * I_;
      const float* v = gate + I_;
      float* z = act.z.data() + t * I_;
      for (int64_t c = 0; c < I_; ++c) z[c] = siluf(gate[c]) * v[c];
    }
  });
  down_.forward(act.z.data(), n, out, bs);
}

void GluTrain::backward(const float* m, int64_t n, const GluActivations& act, const float* dout, float* dm,
                        GluGradScratch& s, BitLinearTrainScratch& bs) const {
  down_.backward(act.z.data(), dout, n, s.dz.data(), false, bs);
  parallel_for(n, min_rows_per_part(I_), [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const float* gate = act.gv.data() + t * 2 * I_;
      const float* v = gate + I_;
      const float* dz = s.dz.data() + t * I_;
      float* dgate = s.dgv.data() + t * 2 * I_;
      float* dv = dgate + I_;
      for (int64_t c = 0; c < I_; ++c) {
        const SiluAndGrad sg = silu_and_grad(gate[c]);
        dgate[c] = dz[c] * v[c] * sg.grad;
        dv[c] = dz[c] * sg.value;
      }
    }
  });
  gate_.backward(m, s.dgv.data(), n, dm, false, bs);
}

}  // namespace mmfree
