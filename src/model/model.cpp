#include "model/model.h"

#include <algorithm>
#include <cmath>

#include "format/dtype.h"
#include "kernels/elementwise.h"
#include "model/tensor_names.h"
#include "util/error.h"

namespace mmfree {

RecurrentState::RecurrentState(const ModelConfig& c, int64_t b)
    : batch(b), h(static_cast<size_t>(b * c.num_layers * c.hidden_size), 0.0f) {}

void RecurrentState::reset() { std::fill(h.begin(), h.end(), 0.0f); }

Workspace::Workspace(const ModelConfig& c, int64_t rows) : max_rows(rows) {
  const int64_t d = c.hidden_size, I = c.intermediate_size;
  x.resize(static_cast<size_t>(rows * d));
  a.resize(static_cast<size_t>(rows * d));
  o.resize(static_cast<size_t>(rows * d));
  bitlinear.reserve(rows, std::max(d, I));
  mlgru.reserve(rows, d);
  glu.reserve(rows, I);
}

std::vector<std::vector<float>> lower_bounds_from_params(const std::vector<float>& params, int64_t L, int64_t d) {
  std::vector<std::vector<float>> lb(static_cast<size_t>(L), std::vector<float>(static_cast<size_t>(d)));
  for (int64_t c = 0; c < d; ++c) {
    double mx = -INFINITY;
    for (int64_t l = 0; l < L; ++l) mx = std::max(mx, static_cast<double>(params[l * d + c]));
    double z = 0;
    for (int64_t l = 0; l < L; ++l) z += std::exp(params[l * d + c] - mx);
    const double p0 = std::exp(params[c] - mx) / z;
    double cum = 0;
    for (int64_t l = 0; l < L; ++l) {
      cum += std::exp(params[l * d + c] - mx) / z;
      lb[l][c] = static_cast<float>(cum - p0);
    }
  }
  return lb;
}

std::unique_ptr<Model> Model::load(const std::string& path, const ComputeOptions& compute) {
  check(is_hf_directory(path), path + ": not a model (expected a directory with config.json)");
  return std::make_unique<Model>(std::make_shared<const HfCheckpoint>(path), compute);
}

Model::Model(std::shared_ptr<const HfCheckpoint> ck, const ComputeOptions& compute)
    : cfg_(ck->config()), compute_(compute), ck_(std::move(ck)) {
  const int64_t L = cfg_.num_layers, d = cfg_.hidden_size;
  embeddings_ = &ck_->tensor("model.embeddings.weight");
  const auto lb = lower_bounds_from_params(ck_->tensor("model.lower_bounds").to_f32(), L, d);
  layers_.reserve(static_cast<size_t>(L));
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = layer_prefix(l);
    const bool use_lb = cfg_.use_lower_bound && l > 0;
    layers_.push_back(Layer{ck_->tensor(p + "attn_norm.weight").to_f32(), ck_->tensor(p + "mlp_norm.weight").to_f32(),
                            Mlgru(*ck_, l, use_lb ? lb[l] : std::vector<float>{}), Glu(*ck_, l)});
  }
  final_norm_ = ck_->tensor("model.norm.weight").to_f32();
  lm_head_ = BitLinear(ck_->tensor("lm_head.weight"), ck_->tensor("lm_head.norm.weight"));
}

void Model::forward(const int64_t* tokens, int64_t B, int64_t T, RecurrentState& st, Workspace& ws, float* logits,
                    bool all_positions) const {
  const int64_t n = B * T, d = cfg_.hidden_size, L = cfg_.num_layers, V = cfg_.vocab_size;
  // Checks on this path build their message only on failure: forward runs once per decoded token
  // and allocates nothing.
  if (n > ws.max_rows)
    throw Error("internal: workspace holds " + std::to_string(ws.max_rows) + " rows, call needs " + std::to_string(n));
  if (st.batch != B) throw Error("internal: state batch " + std::to_string(st.batch) + " != " + std::to_string(B));
  const size_t row_bytes = static_cast<size_t>(d) * dtype_size(embeddings_->dtype);
  for (int64_t r = 0; r < n; ++r) {
    if (tokens[r] < 0 || tokens[r] >= V)
      throw Error("token id " + std::to_string(tokens[r]) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
    convert_to_f32(embeddings_->dtype, embeddings_->data + tokens[r] * row_bytes, ws.x.data() + r * d, static_cast<size_t>(d));
  }
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  const ComputeContext& c = compute_.context();
  const Isa isa = c.reference ? Isa::Scalar : c.isa;  // Scalar: the reference formulas
  ThreadPool* pool = c.reference ? nullptr : c.pool;
  for (int64_t l = 0; l < L; ++l) {
    const Layer& layer = layers_[l];
    rmsnorm(isa, ws.x.data(), layer.attn_norm.data(), n, d, eps, ws.a.data(), pool);
    layer.mixer.forward(ws.a.data(), B, T, st.h.data() + l * d, L * d, ws.o.data(), ws.mlgru, ws.bitlinear, c);
    for (int64_t i = 0; i < n * d; ++i) ws.x[i] += ws.o[i];
    rmsnorm(isa, ws.x.data(), layer.mlp_norm.data(), n, d, eps, ws.a.data(), pool);
    layer.mlp.forward(ws.a.data(), n, ws.o.data(), ws.glu, ws.bitlinear, c);
    for (int64_t i = 0; i < n * d; ++i) ws.x[i] += ws.o[i];
  }
  if (all_positions) {
    rmsnorm(isa, ws.x.data(), final_norm_.data(), n, d, eps, ws.a.data(), pool);
    lm_head_.forward(ws.a.data(), n, logits, ws.bitlinear, c);
  } else {
    for (int64_t b = 0; b < B; ++b)
      rmsnorm(isa, ws.x.data() + ((b + 1) * T - 1) * d, final_norm_.data(), 1, d, eps, ws.a.data() + b * d);
    lm_head_.forward(ws.a.data(), B, logits, ws.bitlinear, c);
  }
}

}  // namespace mmfree
