#include "train/lm_loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "train/parallel.h"

namespace mmfree {

namespace {
constexpr int64_t kLogitBudget = int64_t{8} << 20;  // floats per chunk

// Turns one row of logits into d(coef * NLL)/d(logits) in place; returns the NLL of `label`.
double softmax_nll_row(float* z, int64_t V, int64_t label, float coef) {
  const float mx = *std::max_element(z, z + V);
  const float z_label = z[label];
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += z[v] = std::exp(z[v] - mx);
  const float scale = static_cast<float>(coef / sum);
  for (int64_t v = 0; v < V; ++v) z[v] *= scale;
  z[label] -= coef;
  return static_cast<double>(mx) + std::log(sum) - static_cast<double>(z_label);
}
}  // namespace

void LmLossScratch::reserve(int64_t rows, int64_t vocab) {
  chunk_rows = std::clamp<int64_t>(kLogitBudget / vocab, 1, std::max<int64_t>(rows, 1));
  const auto size = static_cast<size_t>(chunk_rows * vocab);
  if (logits.size() < size) logits.resize(size);
}

double lm_head_loss(const TrainBitLinear& head, const float* x, const int32_t* tokens, int64_t B, int64_t T,
                    float grad_coef, float* dx, LmLossScratch& s, BitLinearTrainScratch& bs) {
  const int64_t n = B * T, V = head.out_features(), d = head.in_features();
  double total = 0;
  for (int64_t r0 = 0; r0 < n; r0 += s.chunk_rows) {
    const int64_t rows = std::min(s.chunk_rows, n - r0);
    head.forward(x + r0 * d, rows, s.logits.data(), bs);
    std::vector<double> part_nll(static_cast<size_t>(parallel_threads()), 0.0);
    const int parts = parallel_for(rows, min_rows_per_part(V), [&](int64_t b, int64_t e, int part) {
      for (int64_t k = b; k < e; ++k) {
        const int64_t r = r0 + k, t = r % T;
        float* z = s.logits.data() + k * V;
        if (t == T - 1) {  // unlabelled: no loss, no gradient
          std::fill(z, z + V, 0.0f);
          continue;
        }
        part_nll[part] += softmax_nll_row(z, V, tokens[r + 1], grad_coef);
      }
    });
    for (int part = 0; part < parts; ++part) total += part_nll[part];
    if (dx) head.backward(x + r0 * d, s.logits.data(), rows, dx + r0 * d, false, bs);
  }
  return total;
}

}  // namespace mmfree
