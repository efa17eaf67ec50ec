#pragma once
// The MLGRU token mixer (SPEC.md, block l): an element-wise gated linear recurrence in place of
// attention. Its only state is h: d floats per layer and sequence.
#include <cstdint>

#include "model/bitlinear.h"
#include "model/layer_weights.h"

namespace mmfree {

// Where a forward puts its work, [rows][d] each (backend memory): the i, f, g projections; and, for
// training, what the backward needs: the normalised input a, the states h and o_proj's input o_in
// (null for inference, which keeps nothing).
struct MlgruBuffers {
  float *i = nullptr, *f = nullptr, *g = nullptr;
  float *a = nullptr, *h = nullptr, *o_in = nullptr;
  // Training: where the i, f, g and o products keep their dequantised inputs (BitLinearCall::keep_xq),
  // or null.
  void *xq_i = nullptr, *xq_f = nullptr, *xq_g = nullptr, *xq_o = nullptr;
  bool keeps() const { return h != nullptr; }
};

// Backend memory for inference over up to `rows` rows.
struct MlgruScratch {
  Buffer i, f, g;
  MlgruScratch(Backend& be, int64_t rows, int64_t d);
  MlgruBuffers buffers() const { return {i.as<float>(), f.as<float>(), g.as<float>()}; }
};

// Gradient buffers of a backward over up to `rows` rows, [rows][d] each, shared by the layers: views
// of floats(rows, d) floats of backend memory (which the GLU's backward may use in turn).
struct MlgruGrads {
  float *d_o_in, *dh, *dg, *di, *df;
  MlgruGrads(float* scratch, int64_t rows, int64_t d);
  static int64_t floats(int64_t rows, int64_t d) { return 5 * rows * d; }
};

// Where the states of a batch's sequences lie: sequence b's layer-l state is states + slots[b] *
// slot_stride + l * d.
struct StateSlots {
  float* states = nullptr;
  const int32_t* slots = nullptr;  // [B], backend memory
  int64_t slot_stride = 0;
};

class Mlgru {
 public:
  Mlgru() = default;
  // lower_bound: [d] in backend memory, or null (layer 0, or disabled by the config).
  Mlgru(LayerWeights& w, int64_t layer, const ModelConfig& c, const float* lower_bound);

  // in: the normalised input, B*T rows batch-major; advances the B states (at layer offset
  // layer_offset within a slot); writes out [B*T][d] (the o_proj output, before the residual add).
  void forward(Backend& be, const BitLinearInput& in, int64_t B, int64_t T, const StateSlots& st, int64_t layer_offset,
               float* out, const MlgruBuffers& buf) const;
  // The forward after its i, f, g products (buf.i, buf.f, buf.g): the recurrence and o_proj.
  void mix(Backend& be, int64_t B, int64_t T, const StateSlots& st, int64_t layer_offset, float* out,
           const MlgruBuffers& buf) const;
  // Training, after a forward that kept buf (each sequence from a zero state): da [B*T][d] written
  // from dout; the layer's gradients added to, and dlb [d] (the gradient at this layer's lower
  // bound) when it has one.
  void backward(Backend& be, int64_t B, int64_t T, const MlgruBuffers& buf, const float* dout, float* da, float* dlb,
                const MlgruGrads& s) const;
  void requantize(Backend& be) const;
  // buf.o_in formed again from buf.g and buf.h, as the forward formed it.
  void form_o_in(Backend& be, int64_t n, const MlgruBuffers& buf) const;
  int64_t weight_bytes() const;

 private:
  int64_t d_ = 0;
  float eps_ = 1e-6f;
  BitLinear i_, f_, g_, o_;
  ModelVector g_norm_;
  const float* lower_bound_ = nullptr;
};

}  // namespace mmfree
