#include "model/model.h"

#include <algorithm>
#include <cmath>

#include "kernels/elementwise.h"
#include "model/tensor_names.h"
#include "util/error.h"
#include "util/progress.h"

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
  return std::make_unique<Model>(open_weight_source(path), compute);
}

Model::Model(std::shared_ptr<const WeightSource> weights, const ComputeOptions& compute)
    : cfg_(weights->config()), compute_(compute), weights_(std::move(weights)), embeddings_(weights_->embeddings()) {
  const int64_t L = cfg_.num_layers, d = cfg_.hidden_size;
  const auto lb = lower_bounds_from_params(weights_->floats("model.lower_bounds"), L, d);
  layers_.reserve(static_cast<size_t>(L));
  Progress progress("loading the model", static_cast<double>(L), "layers");  // packing F32 weights takes a while
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = layer_prefix(l);
    const bool use_lb = cfg_.use_lower_bound && l > 0;
    layers_.push_back(Layer{weights_->floats(p + "attn_norm.weight"), weights_->floats(p + "mlp_norm.weight"),
                            Mlgru(*weights_, l, use_lb ? lb[l] : std::vector<float>{}), Glu(*weights_, l)});
    progress.add(1);
  }
  final_norm_ = weights_->floats("model.norm.weight");
  lm_head_ = weights_->bitlinear("lm_head");
  // The order of a decode step's products, each announcing the next (BitLinear::set_next); the
  // LM head is followed by the first layer of the next token.
  for (int64_t l = 0; l < L; ++l) {
    layers_[l].mixer.set_next(layers_[l].mlp.first_product());
    layers_[l].mlp.set_next(l + 1 < L ? layers_[l + 1].mixer.first_product() : std::vector<TernaryMatrix>{lm_head_.weight()});
  }
  lm_head_.set_next(layers_[0].mixer.first_product());
}

int64_t Model::weight_bytes_per_token() const {
  int64_t b = embeddings_.row_bytes() + lm_head_.weight_bytes() + static_cast<int64_t>(final_norm_.size() * sizeof(float));
  for (const auto& l : layers_)
    b += l.mixer.weight_bytes() + l.mlp.weight_bytes() +
         static_cast<int64_t>((l.attn_norm.size() + l.mlp_norm.size()) * sizeof(float));
  return b;
}

void Model::forward(const int64_t* tokens, int64_t B, int64_t T, RecurrentState& st, Workspace& ws, float* logits,
                    bool all_positions) const {
  if (B != 1 || T <= ws.max_rows) return forward_rows(tokens, B, T, st, ws, logits, all_positions);
  const int64_t V = cfg_.vocab_size;
  for (int64_t t0 = 0; t0 < T; t0 += ws.max_rows) {
    const int64_t tc = std::min(ws.max_rows, T - t0);
    float* out = all_positions ? logits + t0 * V : t0 + tc == T ? logits : nullptr;
    forward_rows(tokens + t0, 1, tc, st, ws, out, all_positions);
  }
}

void Model::forward_rows(const int64_t* tokens, int64_t B, int64_t T, RecurrentState& st, Workspace& ws, float* logits,
                         bool all_positions) const {
  const int64_t n = B * T, d = cfg_.hidden_size, L = cfg_.num_layers, V = cfg_.vocab_size;
  // Checks on this path build their message only on failure: forward runs once per decoded token
  // and allocates nothing.
  if (n > ws.max_rows)
    throw Error("internal: workspace holds " + std::to_string(ws.max_rows) + " rows, call needs " + std::to_string(n));
  if (st.batch != B) throw Error("internal: state batch " + std::to_string(st.batch) + " != " + std::to_string(B));
  for (int64_t r = 0; r < n; ++r) {
    if (tokens[r] < 0 || tokens[r] >= V)
      throw Error("token id " + std::to_string(tokens[r]) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
    embeddings_.row(tokens[r], ws.x.data() + r * d);
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
  if (!logits) return;
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
