// Gradients against central finite differences of the loss, on a tiny random model.
//
// With quantizers on, the loss is piecewise constant in the weights and activations (the int8 and
// ternary codes) and moves only through the scales s_x and s_w: its derivative is not what the
// straight-through estimator computes, so a finite difference of the quantized model checks
// nothing the STE promises. The whole model is therefore checked with identity quantizers (every
// BitLinear becomes RMSNorm + a float linear layer, smooth everywhere), and the quantized BitLinear
// on its own in test_train_bitlinear.cpp, where its smooth part (the RMSNorm) is differenced.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "train/trainable_model.h"

namespace mmfree {
namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = 24;
  c.hidden_size = 16;
  c.num_layers = 2;
  c.num_heads = 1;
  c.intermediate_size = 32;
  return c;
}

// Generic values for every parameter, so that no gradient is zero by symmetry (the initial norm
// weights are all 1 and the lower bounds all 0).
void randomize(TrainableModel& m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& p : m.params()) {
    const bool vector_like = p.shape.size() == 1 || p.name == "model.lower_bounds";
    const float scale = vector_like ? 0.3f : 1.0f / std::sqrt(static_cast<float>(p.shape[1]));
    for (auto& v : p.value) v = (p.name.ends_with("norm.weight") ? 1.0f : 0.0f) + scale * normal(rng);
  }
}

TEST(TrainGradCheck, IdentityQuantizersEveryParameter) {
  const ModelConfig c = tiny_config();
  TrainableModel m = TrainableModel::random_init(c, 7);
  randomize(m, 11);
  m.set_quantizers(Quantizers::Identity);
  const int64_t B = 2, T = 5;
  std::mt19937_64 rng(3);
  std::vector<int32_t> tokens(static_cast<size_t>(B * T));
  for (auto& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(c.vocab_size));
  const std::set<int32_t> used(tokens.begin(), tokens.end());

  m.zero_grad();
  m.forward_backward(tokens.data(), B, T);
  // Fourth-order central differences: truncation O(h^4) lets h be large against the float rounding
  // of the loss, which leaves about 3e-5 of noise in a difference (measured); gradients here are
  // 1e-2 .. 1, so a wrong formula shows far above the allowed 1% + 5e-5.
  const float h = 1e-2f;
  int checked = 0;
  double worst = 0;
  for (auto& p : m.params()) {
    const int64_t cols = p.shape.size() == 2 ? p.shape[1] : 1;
    double largest = 0;
    for (int k = 0; k < 6; ++k) {
      int64_t idx = static_cast<int64_t>(rng() % p.value.size());
      if (p.name == "model.embeddings.weight")  // rows of tokens in the batch, others get no gradient
        idx = *std::next(used.begin(), static_cast<long>(rng() % used.size())) * cols + idx % cols;
      const float orig = p.value[idx];
      auto loss_at = [&](float delta) {
        p.value[idx] = orig + delta;
        return m.loss(tokens.data(), B, T);
      };
      const double fd = (8 * (loss_at(h) - loss_at(-h)) - (loss_at(2 * h) - loss_at(-2 * h))) / (12 * h);
      p.value[idx] = orig;
      const double an = p.grad[idx];
      const double err = std::fabs(fd - an) / (std::fabs(fd) + 5e-3);
      worst = std::max(worst, err);
      largest = std::max(largest, std::fabs(fd));
      ++checked;
      EXPECT_LE(err, 1e-2) << p.name << "[" << idx << "]: finite difference " << fd << ", backward " << an;
    }
    EXPECT_GE(largest, 1e-3) << p.name << ": every checked gradient is near zero, the check proves nothing";
  }
  std::printf("[ metric ] identity-quantizer gradient check: %d coordinates, worst |fd - backward| / (|fd| + 5e-3) = %.3g\n", checked,
              worst);
}

}  // namespace
}  // namespace mmfree
