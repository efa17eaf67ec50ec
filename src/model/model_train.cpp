// Training through the model's one forward (Model::run_blocks, keeping what the backward needs)
// and each layer's backward: SPEC.md, Training (straight-through estimators for the quantisers).
#include <algorithm>
#include <cmath>

#include "model/model.h"
#include "util/error.h"

namespace mmfree {

namespace {
constexpr int64_t kLogitBudget = int64_t{32} << 20;  // floats of logits at once (128 MiB)
}  // namespace

void lower_bounds_backward(std::span<const float> params, const float* dlb, int64_t L, int64_t d, float* dparams) {
  std::vector<double> p(static_cast<size_t>(L)), dp(static_cast<size_t>(L));
  for (int64_t c = 0; c < d; ++c) {
    double mx = -INFINITY;
    for (int64_t l = 0; l < L; ++l) mx = std::max(mx, static_cast<double>(params[l * d + c]));
    double z = 0;
    for (int64_t l = 0; l < L; ++l) z += p[l] = std::exp(params[l * d + c] - mx);
    for (int64_t l = 0; l < L; ++l) p[l] /= z;
    // lb[l] = sum_{j<=l} P[j] - P[0]: dP[j] = sum_{l>=j} dlb[l], minus sum_l dlb[l] for j = 0.
    double suffix = 0;
    for (int64_t l = L - 1; l >= 0; --l) dp[l] = suffix += dlb[l * d + c];
    dp[0] -= suffix;
    // Softmax: dparams[l] = P[l] * (dP[l] - sum_j P[j] dP[j]).
    double mean = 0;
    for (int64_t l = 0; l < L; ++l) mean += p[l] * dp[l];
    for (int64_t l = 0; l < L; ++l) dparams[l * d + c] += static_cast<float>(p[l] * (dp[l] - mean));
  }
}

namespace {
constexpr Recompute kRecomputeLevels[] = {Recompute::None, Recompute::Inputs, Recompute::Branch, Recompute::Block};
}  // namespace

std::vector<std::string> recompute_names() {
  std::vector<std::string> names;
  for (Recompute r : kRecomputeLevels) names.emplace_back(recompute_name(r));
  return names;
}

Recompute parse_recompute(const std::string& s) {
  for (Recompute r : kRecomputeLevels)
    if (s == recompute_name(r)) return r;
  const std::vector<std::string> names = recompute_names();
  std::string expected = names.front();
  for (size_t k = 1; k < names.size(); ++k) expected += (k + 1 < names.size() ? ", " : " or ") + names[k];
  throw Error("--recompute " + s + ": expected " + expected);
}

const char* recompute_name(Recompute r) {
  switch (r) {
    case Recompute::None: return "none";
    case Recompute::Inputs: return "inputs";
    case Recompute::Branch: return "branch";
    case Recompute::Block: return "block";
  }
  return "?";
}

TrainBuffers::TrainBuffers(const Model& model, int64_t B_, int64_t T_, Recompute recompute_)
    : B(B_),
      T(T_),
      chunk_rows(std::clamp<int64_t>(kLogitBudget / model.config().vocab_size, 1, B_ * T_)),
      recompute(recompute_),
      backward_scratch(model.backend().alloc(
          static_cast<int64_t>(sizeof(float)) * std::max(MlgruGrads::floats(B_ * T_, model.config().hidden_size),
                                                         GluGrads::floats(B_ * T_, model.config().intermediate_size)))),
      mixer_grads(backward_scratch.as<float>(), B_ * T_, model.config().hidden_size),
      mlp_grads(backward_scratch.as<float>(), B_ * T_, model.config().intermediate_size),
      host_labels(static_cast<size_t>(B_ * T_)) {
  check(B > 0 && T > 0, "batch of " + std::to_string(B) + " x " + std::to_string(T) + " tokens: both must be > 0");
  const ModelConfig& c = model.config();
  Backend& be = model.backend();
  const int64_t n = B * T, d = c.hidden_size, I = c.intermediate_size, L = c.num_layers, V = c.vocab_size;
  auto floats = [&](int64_t count) { return be.alloc(count * static_cast<int64_t>(sizeof(float))); };
  const bool keep_inputs = recompute == Recompute::None;
  const bool keep_branch = recompute == Recompute::None || recompute == Recompute::Inputs;
  const bool keep_ifg = recompute != Recompute::Block;
  // Per layer, or once for all layers where the backward forms them again.
  auto kept = [&](bool per_layer, Buffer& shared, int64_t count) {
    if (per_layer) return floats(count);
    if (!shared.bytes()) shared = floats(count);
    return Buffer{};
  };
  for (int64_t l = 0; l < L; ++l) {
    Layer k{floats(n * d)};
    k.i = kept(keep_ifg, shared_i, n * d);
    k.f = kept(keep_ifg, shared_f, n * d);
    k.g = kept(keep_ifg, shared_g, n * d);
    k.x_mid = kept(keep_branch, shared_x_mid, n * d);
    k.h = kept(keep_branch, shared_h, n * d);
    k.gv = kept(keep_branch, shared_gv, n * 2 * I);
    k.a = kept(keep_inputs, shared_a, n * d);
    k.o_in = kept(keep_inputs, shared_o_in, n * d);
    k.m = kept(keep_inputs, shared_m, n * d);
    k.z = kept(keep_inputs, shared_z, n * I);
    const auto own = [](const Buffer& mine, const Buffer& shared) { return (mine.bytes() ? mine : shared).as<float>(); };
    views.push_back({{own(k.i, shared_i), own(k.f, shared_f), own(k.g, shared_g), own(k.a, shared_a), own(k.h, shared_h),
                      own(k.o_in, shared_o_in)},
                     {own(k.gv, shared_gv), own(k.m, shared_m), own(k.z, shared_z)},
                     k.x_in.as<float>(),
                     own(k.x_mid, shared_x_mid)});
    layers.push_back(std::move(k));
  }
  x = floats(n * d);
  o = floats(n * d);
  x_final = floats(n * d);
  final_normed = floats(n * d);
  tokens = be.alloc(n * 4);
  labels = be.alloc(n * 4);
  slots = be.alloc(B * 4);
  states = floats(B * L * d);
  logits = floats(chunk_rows * V);
  dx = floats(n * d);
  d_branch = floats(n * d);
  dlb = floats(L * d);
  std::vector<int32_t> iota(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) iota[b] = static_cast<int32_t>(b);
  be.write(slots.as<void>(), iota.data(), B * 4);
  be.reserve_training(n, std::max(d, I));
  // After reserve_training: a backend may size its offer by its training mode.
  const int64_t operand_bytes = recompute == Recompute::Block ? be.backward_operand_bytes(n, d) : 0;
  if (operand_bytes > 0) operands = be.alloc(5 * operand_bytes);
}

BlockBuffers TrainBuffers::backward_view(int64_t l) const {
  BlockBuffers b = views[static_cast<size_t>(l)];
  const int64_t operand_bytes = operands.bytes() / 5;
  if (operand_bytes == 0) return b;
  char* p = operands.as<char>();
  b.mixer.xq_i = p;
  b.mixer.xq_f = p + operand_bytes;
  b.mixer.xq_g = p + 2 * operand_bytes;
  b.mixer.xq_o = p + 3 * operand_bytes;
  b.mlp.xq_m = p + 4 * operand_bytes;
  return b;
}

void Model::prepare_step() const {
  check(params_ != nullptr, "internal: prepare_step on a model that is not trainable");
  Backend& be = *be_;
  const int64_t L = cfg_.num_layers, d = cfg_.hidden_size;
  std::vector<float> lb_params(static_cast<size_t>(L * d));
  be.read(lb_params.data(), (*params_)["model.lower_bounds"].value_mem, L * d * static_cast<int64_t>(sizeof(float)));
  const auto lb = lower_bounds_from_params(lb_params, L, d);
  for (int64_t l = 0; l < L; ++l) be.write(lower_bounds_.as<float>() + l * d, lb[l].data(), d * static_cast<int64_t>(sizeof(float)));
  for (const Layer& l : layers_) {
    l.mixer.requantize(be);
    l.mlp.requantize(be);
  }
  lm_head_.requantize(be);
}

void Model::train_forward(const int32_t* tokens, TrainBuffers& tb) const {
  const int64_t n = tb.B * tb.T, V = cfg_.vocab_size, T = tb.T;
  check(params_ != nullptr, "internal: a training pass on a model that is not trainable");
  for (int64_t r = 0; r < n; ++r) {
    if (tokens[r] < 0 || tokens[r] >= V)  // not check(): no message built per token
      throw Error("token id " + std::to_string(tokens[r]) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
    tb.host_labels[r] = r % T == T - 1 ? -1 : tokens[r + 1];
  }
  Backend& be = *be_;
  be.write(tb.tokens.as<void>(), tokens, n * 4);
  be.write(tb.labels.as<void>(), tb.host_labels.data(), n * 4);
  be.fill_zero(tb.states.as<void>(), tb.states.bytes());
  be.embed(*embeddings_, tb.tokens.as<int32_t>(), n, tb.x.as<float>());
  const StateSlots st{tb.states.as<float>(), tb.slots.as<int32_t>(), cfg_.num_layers * cfg_.hidden_size};
  run_blocks(tb.B, T, tb.x.as<float>(), tb.o.as<float>(), st, tb.views);
}

double Model::train_pass(const int32_t* tokens, TrainBuffers& tb, float grad_coef) const {
  train_forward(tokens, tb);
  Backend& be = *be_;
  const int64_t n = tb.B * tb.T, d = cfg_.hidden_size, V = cfg_.vocab_size;
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  float *x = tb.x.as<float>(), *o = tb.o.as<float>(), *logits = tb.logits.as<float>();
  // The LM head and the loss in chunks of rows, so that only [chunk][V] logits exist at once: each
  // chunk's logits become its gradient in place.
  double nll = 0;
  for (int64_t r0 = 0; r0 < n; r0 += tb.chunk_rows) {
    const int64_t rows = std::min(tb.chunk_rows, n - r0);
    float* normed = tb.final_normed.as<float>() + r0 * d;
    lm_head_.forward(be, {.kind = BitLinearInput::Kind::Norm, .x = x + r0 * d, .ld = d, .add = o + r0 * d,
                          .w = final_norm_.value, .eps = eps, .keep_m = normed, .keep_x = tb.x_final.as<float>() + r0 * d},
                     rows, logits);
    nll += be.cross_entropy(logits, tb.labels.as<int32_t>() + r0, rows, V, grad_coef);
    if (grad_coef != 0.0f) lm_head_.backward(be, normed, logits, rows, tb.d_branch.as<float>() + r0 * d, false);
  }
  if (grad_coef != 0.0f) train_backward(tb);
  return nll;
}

void Model::train_logits(const int32_t* tokens, TrainBuffers& tb, float* out) const {
  train_forward(tokens, tb);
  Backend& be = *be_;
  const int64_t n = tb.B * tb.T, d = cfg_.hidden_size, V = cfg_.vocab_size;
  float *x = tb.x.as<float>(), *o = tb.o.as<float>(), *logits = tb.logits.as<float>();
  for (int64_t r0 = 0; r0 < n; r0 += tb.chunk_rows) {
    const int64_t rows = std::min(tb.chunk_rows, n - r0);
    lm_head_.forward(be, {.kind = BitLinearInput::Kind::Norm, .x = x + r0 * d, .ld = d, .add = o + r0 * d,
                          .w = final_norm_.value, .eps = static_cast<float>(cfg_.rms_norm_eps),
                          .keep_m = tb.final_normed.as<float>() + r0 * d},
                     rows, logits);
    be.read(out + r0 * V, logits, rows * V * static_cast<int64_t>(sizeof(float)));
  }
}

void Model::recompute(TrainBuffers& tb, int64_t l, const BlockBuffers& b) const {
  Backend& be = *be_;
  const int64_t n = tb.B * tb.T, d = cfg_.hidden_size, L = cfg_.num_layers;
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  const Layer& layer = layers_[l];
  using Kind = BitLinearInput::Kind;
  const bool whole = tb.recompute == Recompute::Block;
  const BitLinearInput x_in{.kind = Kind::Norm, .x = b.x_in, .ld = d, .w = layer.attn_norm.value, .eps = eps, .keep_m = b.mixer.a};
  if (!whole) be.form_input(x_in, n, d);  // a, for the backward of i, f, g (block: their products form it)
  if (tb.recompute == Recompute::Inputs) {
    be.form_input({.kind = Kind::Norm, .x = b.x_mid, .ld = d, .w = layer.mlp_norm.value, .eps = eps, .keep_m = b.mlp.m}, n, d);
    layer.mixer.form_o_in(be, n, b.mixer);
    layer.mlp.form_z(be, n, b.mlp);
    return;
  }
  // The block's forward again from its i, f, g products (block) or after them (branch): the scan from
  // zero states (h, o_in), o_proj into x_mid, x_mid + x_in (the forward's sum: addition commutes
  // exactly), the GLU up to its down projection's input (m, gv, z).
  const StateSlots st{tb.states.as<float>(), tb.slots.as<int32_t>(), L * d};
  be.fill_zero(tb.states.as<void>(), tb.states.bytes());
  if (whole)
    layer.mixer.forward(be, x_in, tb.B, tb.T, st, l * d, b.x_mid, b.mixer);
  else
    layer.mixer.mix(be, tb.B, tb.T, st, l * d, b.x_mid, b.mixer);
  layer.mlp.gate(be, {.kind = Kind::Norm, .x = b.x_mid, .ld = d, .add = b.x_in, .w = layer.mlp_norm.value, .eps = eps},
                 n, b.mlp);
  layer.mlp.form_z(be, n, b.mlp);
}

void Model::train_backward(TrainBuffers& tb) const {
  // tb.d_branch holds the gradient at the LM head's input.
  Backend& be = *be_;
  const int64_t B = tb.B, T = tb.T, n = B * T, d = cfg_.hidden_size, L = cfg_.num_layers;
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  float *dx = tb.dx.as<float>(), *d_branch = tb.d_branch.as<float>(), *dlb = tb.dlb.as<float>();
  be.rmsnorm_backward(tb.x_final.as<float>(), final_norm_.value, d_branch, n, d, eps, dx, false, final_norm_.grad);
  be.fill_zero(dlb, tb.dlb.bytes());
  for (int64_t l = L - 1; l >= 0; --l) {
    const Layer& layer = layers_[l];
    const BlockBuffers b = tb.backward_view(l);
    if (tb.recompute != Recompute::None) recompute(tb, l, b);
    // x_out = x_mid + mlp(m): dx passes through the residual, the branch adds through mlp_norm.
    layer.mlp.backward(be, n, b.mlp, dx, d_branch, tb.mlp_grads);
    be.rmsnorm_backward(b.x_mid, layer.mlp_norm.value, d_branch, n, d, eps, dx, true, layer.mlp_norm.grad);
    layer.mixer.backward(be, B, T, b.mixer, dx, d_branch, dlb + l * d, tb.mixer_grads);
    be.rmsnorm_backward(b.x_in, layer.attn_norm.value, d_branch, n, d, eps, dx, true, layer.attn_norm.grad);
  }
  be.embed_backward(tb.tokens.as<int32_t>(), dx, n, d, (*params_)["model.embeddings.weight"].grad_mem);
  if (!cfg_.use_lower_bound) return;
  // L x d floats: on the host.
  Parameter& lb = (*params_)["model.lower_bounds"];
  const auto count = static_cast<size_t>(L * d);
  const auto bytes = static_cast<int64_t>(count * sizeof(float));
  std::vector<float> params(count), grads(count), host_dlb(count);
  be.read(params.data(), lb.value_mem, bytes);
  be.read(grads.data(), lb.grad_mem, bytes);
  be.read(host_dlb.data(), dlb, bytes);
  lower_bounds_backward(params, host_dlb.data(), L, d, grads.data());
  be.write(lb.grad_mem, grads.data(), bytes);
}

}  // namespace mmfree
