#pragma once
// The channel mixer: a GLU of two BitLinear layers, x -> down(silu(gate) * v), [gate, v] = gate_proj(x).
#include <cstdint>

#include "model/bitlinear.h"
#include "model/layer_weights.h"

namespace mmfree {

// Where a forward puts its work (backend memory): gv [rows][2I]; and, for training, what the
// backward needs: the normalised input m [rows][d] and down's input z [rows][I] (null for inference).
struct GluBuffers {
  float* gv = nullptr;
  float *m = nullptr, *z = nullptr;
  void* xq_m = nullptr;  // training: where gate/up keeps its dequantised input, or null
};

// Backend memory for inference over up to `rows` rows.
struct GluScratch {
  Buffer gv;  // [rows][2I]
  GluScratch(Backend& be, int64_t rows, int64_t I);
  GluBuffers buffers() const { return {gv.as<float>()}; }
};

// Gradient buffers of a backward over up to `rows` rows, shared by the layers: views of floats(rows,
// I) floats of backend memory (which the MLGRU's backward may use in turn).
struct GluGrads {
  float *dz, *dgv;  // [rows][I], [rows][2I]
  GluGrads(float* scratch, int64_t rows, int64_t I) : dz(scratch), dgv(scratch + rows * I) {}
  static int64_t floats(int64_t rows, int64_t I) { return 3 * rows * I; }
};

class Glu {
 public:
  Glu() = default;
  Glu(LayerWeights& w, int64_t layer, const ModelConfig& c);

  // in: the normalised input, n rows; writes out [n][d].
  void forward(Backend& be, const BitLinearInput& in, int64_t n, float* out, const GluBuffers& buf) const;
  // The forward up to the down projection's input: buf.gv from in (buf.m kept when set).
  void gate(Backend& be, const BitLinearInput& in, int64_t n, const GluBuffers& buf) const;
  // Training, after a forward that kept buf: dm [n][d] written from dout, the gradients added to.
  void backward(Backend& be, int64_t n, const GluBuffers& buf, const float* dout, float* dm, const GluGrads& s) const;
  void requantize(Backend& be) const;
  // buf.z formed again from buf.gv, as the forward formed it.
  void form_z(Backend& be, int64_t n, const GluBuffers& buf) const;
  int64_t weight_bytes() const { return gate_.weight_bytes() + down_.weight_bytes(); }

 private:
  int64_t I_ = 0;
  BitLinear gate_, down_;
};

}  // namespace mmfree
