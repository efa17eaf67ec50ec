#pragma once
// BitLinear as training sees it: SPEC.md's forward (RMSNorm, int8 activations, ternary weights,
// an exact integer product, one scale) and the straight-through backward of the original
// (x + (quant(x) - x).detach() for both quantizers: gradients pass through them as identity).
#include <cstdint>
#include <vector>

#include "train/param_layout.h"
#include "train/parameter.h"

namespace mmfree {

// Identity quantizers turn BitLinear into RMSNorm + a float linear layer; gradient checks use them
// because the quantized forward is piecewise constant in W and x.
enum class Quantizers { On, Identity };

// Buffers of BitLinear calls, sized once for the widest layer and the most rows of a step.
struct BitLinearTrainScratch {
  std::vector<float> s_x;  // [rows]
  std::vector<float> xq;   // [rows][in]: the product's input
  std::vector<float> du;   // [rows][in]: gradient at the RMSNorm output
  void reserve(int64_t rows, int64_t max_in);
};

class TrainBitLinear {
 public:
  // Binds the latent weight [out][in] and the norm weight [in], and derives the weights the product
  // uses: the ternary codes and s_w (or W itself with identity quantizers). Once per step, as W changes.
  void prepare(std::vector<Parameter>& params, BitLinearIds ids, Quantizers mode);

  int64_t out_features() const { return out_; }
  int64_t in_features() const { return in_; }

  // y[n][out] = BitLinear(x[n][in]).
  void forward(const float* x, int64_t n, float* y, BitLinearTrainScratch& s) const;
  // For dy [n][out]: weight.grad += dy^T (q / s_x); norm.grad and dx [n][in] (added to when
  // accumulate_dx) get the RMSNorm backward of du = dy (T / s_w).
  void backward(const float* x, const float* dy, int64_t n, float* dx, bool accumulate_dx,
                BitLinearTrainScratch& s) const;

 private:
  // s.xq = the int8 codes of x's quantized RMSNorm output, as floats, divided by s_x when dequantize.
  void quantize_input(const float* x, int64_t n, bool dequantize, BitLinearTrainScratch& s) const;

  int64_t out_ = 0, in_ = 0;
  Quantizers mode_ = Quantizers::On;
  Parameter* weight_ = nullptr;
  Parameter* norm_ = nullptr;
  std::vector<float> w_;         // [out][in]: the ternary codes as floats, or the latent W
  float s_w_ = 1;
};

}  // namespace mmfree
