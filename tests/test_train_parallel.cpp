// Training on the cpu backend splits its work over the backend's threads: results must not depend
// on the split beyond float rounding, and must repeat exactly for a given thread count.
#include <gtest/gtest.h>

#include <cmath>

#include "train/trainable_model.h"

namespace mmfree {
namespace {

// Large enough that every row, channel and vocabulary loop splits over two threads.
TrainableModel model(int threads = 1) {
  ModelConfig c;
  c.vocab_size = 1000;
  c.hidden_size = 256;
  c.num_layers = 2;
  c.intermediate_size = 512;
  TrainableModel m = TrainableModel::random_init(c, 3, {"cpu", threads, ""});
  for (auto& p : m.params())  // off the initial symmetric values (norms 1, lower bounds 0)
    for (size_t k = 0; k < p.value.size(); ++k) p.value[k] += 0.05f * std::sin(static_cast<float>(k) * 0.37f);
  return m;
}

struct Outcome {
  double loss;
  std::vector<std::vector<float>> grads;
};

Outcome run(int threads) {
  TrainableModel m = model(threads);
  const int64_t B = 2, T = 128;
  std::vector<int32_t> tokens;
  for (int64_t k = 0; k < B * T; ++k) tokens.push_back(static_cast<int32_t>((k * 7919) % 1000));
  Outcome r{m.forward_backward(tokens.data(), B, T), {}};
  for (const auto& p : m.params()) r.grads.emplace_back(p.grad.begin(), p.grad.end());
  return r;
}

TEST(TrainParallel, ThreadCountChangesOnlyRounding) {
  const Outcome one = run(1), two = run(2), again = run(2);
  EXPECT_NEAR(one.loss, two.loss, 1e-6 * one.loss);
  const auto names = model().params();
  for (size_t k = 0; k < one.grads.size(); ++k) {
    double num = 0, den = 0;
    for (size_t i = 0; i < one.grads[k].size(); ++i) {
      const double diff = static_cast<double>(one.grads[k][i]) - two.grads[k][i];
      num += diff * diff;
      den += static_cast<double>(one.grads[k][i]) * one.grads[k][i];
    }
    EXPECT_LE(std::sqrt(num / std::max(den, 1e-30)), 1e-4) << names[k].name;
    EXPECT_EQ(two.grads[k], again.grads[k]) << names[k].name << ": not deterministic for a fixed thread count";
  }
  EXPECT_EQ(two.loss, again.loss);
}

}  // namespace
}  // namespace mmfree
