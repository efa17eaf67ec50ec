#pragma once
// BitLinear (SPEC.md): RMSNorm, int8 activations, ternary weights, one integer product, one scale.
// The weight is a packed ternary matrix (kernels/ternary_format.h): either bytes this object owns
// (packed at load from latent full-precision weights) or bytes owned elsewhere, such as a mapped
// model file, which must outlive it.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "format/safetensors.h"
#include "kernels/ternary_activations.h"
#include "kernels/ternary_format.h"
#include "kernels/ternary_matmul.h"
#include "model/compute.h"
#include "util/aligned_buffer.h"

namespace mmfree {

// Buffers one BitLinear call needs, sized once for the largest layer and row count of a model.
struct BitLinearScratch {
  std::vector<int8_t> q;  // [rows][in]
  std::vector<float> s_x;  // [rows]
  ActivationBuffer acts;   // q laid out for the kernels
  PreparedActivations prepared;  // the last call's view of acts
  void reserve(int64_t rows, int64_t max_in);
};

class BitLinear {
 public:
  BitLinear() = default;
  // Ternarises the latent full-precision weight W [out, in] (norm: the layer's RMSNorm weight
  // [in]) and packs it: TQ2_0_R8 when in % 256 == 0, else I8.
  BitLinear(const TensorView& weight, const TensorView& norm);
  // Uses packed bytes as they are (no copy): weight.data must outlive this object. s_w is the
  // exact per-tensor scale 1 / max(mean|W|, 1e-5); y = (T q) / (s_x * s_w).
  BitLinear(const TernaryMatrix& weight, float s_w, std::vector<float> norm);

  int64_t out_features() const { return w_.rows; }
  int64_t in_features() const { return w_.cols; }
  float weight_scale() const { return s_w_; }
  const TernaryMatrix& weight() const { return w_; }
  const std::vector<float>& norm() const { return norm_; }
  std::vector<int8_t> ternary() const;  // the weights unpacked, [out][in] in {-1, 0, 1}
  int64_t weight_bytes() const;  // what one forward call reads of this layer: packed weights and norm

  // The matrices of the product that follows this one in a decode step (set by the model): a
  // one-token forward announces them to the pool's waiting workers (ternary_prefetch_next).
  void set_next(std::vector<TernaryMatrix> next) { next_ = std::move(next); }
  // After this layer's one-token product: the announcement above (no effect otherwise).
  void announce_next(int64_t n, const ComputeContext& c) const;

  // y[n][out] = BitLinear(x[n][in]).
  void forward(const float* x, int64_t n, float* y, BitLinearScratch& s, const ComputeContext& c = {}) const;

  // Normalises and quantises x into s and returns the product still to run (fast path only).
  MatmulTask prepare(const float* x, int64_t n, float* y, BitLinearScratch& s, const ComputeContext& c) const;

 private:
  TernaryMatrix w_;
  float s_w_ = 1;
  std::vector<float> norm_;
  std::vector<TernaryMatrix> next_;
  std::shared_ptr<const AlignedBuffer<uint8_t>> owned_;  // the packed bytes when this object made them
};

// ys[j][n][out_j] = layers[j](x) for layers that read the same input: their products run as one
// parallel pass (ternary_matmul_batch). scratch[j] serves layers[j].
void forward_shared_input(std::span<const BitLinear* const> layers, const float* x, int64_t n, std::span<float* const> ys,
                          std::span<BitLinearScratch* const> scratch, const ComputeContext& c = {});

}  // namespace mmfree
