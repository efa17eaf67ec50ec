#pragma once
// The MLGRU token mixer (SPEC.md, block l): an element-wise gated linear recurrence in place of
// attention. Its only state is h: d floats per layer and sequence.
#include <cstdint>
#include <vector>

#include "model/bitlinear.h"
#include "model/weight_source.h"

namespace mmfree {

// Backend memory for one call over up to `rows` rows: the i, f, g projections, [rows][d] each.
struct MlgruScratch {
  Buffer i, f, g;
  MlgruScratch(Backend& be, int64_t rows, int64_t d);
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
  Mlgru(Backend& be, const WeightSource& w, int64_t layer, const std::vector<float>& lower_bound);

  // in: the normalised input, B*T rows batch-major; advances the B states (at layer offset
  // layer_offset within a slot); writes out [B*T][d] (the o_proj output, before the residual add).
  void forward(Backend& be, const BitLinearInput& in, int64_t B, int64_t T, const StateSlots& st, int64_t layer_offset,
               float* out, MlgruScratch& s) const;
  int64_t weight_bytes() const;

 private:
  int64_t d_ = 0;
  float eps_ = 1e-6f;
  BitLinear i_, f_, g_, o_;
  Buffer g_norm_;
  Buffer lower_bound_;  // empty for layer 0 or when the config disables it
  int64_t lb_count_ = 0;
};

}  // namespace mmfree
