#include "train/train_workspace.h"

#include <algorithm>

namespace mmfree {

void TrainWorkspace::reserve(const ModelConfig& c, int64_t n) {
  if (n <= rows) return;
  rows = n;
  const int64_t d = c.hidden_size, I = c.intermediate_size, L = c.num_layers;
  const auto nd = static_cast<size_t>(n * d);
  layers.resize(static_cast<size_t>(L));
  for (auto& l : layers) {
    for (auto* v : {&l.x_in, &l.a, &l.x_mid, &l.m}) v->resize(nd);
    l.mixer.reserve(n, d);
    l.mlp.reserve(n, I);
  }
  for (auto* v : {&x_final, &final_normed, &branch, &dx, &d_branch}) v->resize(nd);
  dlb.resize(static_cast<size_t>(L * d));
  mixer_grad.reserve(n, d);
  mlp_grad.reserve(n, I);
  bitlinear.reserve(n, std::max(d, I));
  lm.reserve(n, c.vocab_size);
}

}  // namespace mmfree
