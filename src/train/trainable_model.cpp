#include "train/trainable_model.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "format/hf_checkpoint.h"
#include "format/safetensors.h"
#include "model/model.h"
#include "model/ops.h"
#include "model/tensor_names.h"
#include "train/init_weights.h"
#include "train/lm_loss.h"
#include "train/train_ops.h"
#include "util/atomic_write.h"
#include "util/error.h"

namespace mmfree {

namespace fs = std::filesystem;

TrainableModel::TrainableModel(const ModelConfig& c, std::vector<Parameter> params)
    : cfg_(c),
      params_(std::move(params)),
      layout_(ParamLayout::of(params_, c.num_layers)),
      layers_(static_cast<size_t>(c.num_layers)) {}

TrainableModel TrainableModel::from_checkpoint(const std::string& hf_dir) {
  check(is_hf_directory(hf_dir), hf_dir + ": not a model (expected a directory with config.json)");
  const HfCheckpoint ck(hf_dir);
  std::vector<Parameter> params;
  for (const TensorSpec& spec : expected_tensors(ck.config())) {
    std::vector<float> value = ck.tensor(spec.name).to_f32();
    std::vector<float> grad(value.size(), 0.0f);
    params.push_back({spec.name, spec.shape, std::move(value), std::move(grad)});
  }
  return TrainableModel(ck.config(), std::move(params));
}

TrainableModel TrainableModel::random_init(const ModelConfig& c, uint64_t seed) {
  return TrainableModel(c, init_parameters(c, seed));
}

Parameter& TrainableModel::param(const std::string& name) {
  for (auto& p : params_)
    if (p.name == name) return p;
  throw Error("no parameter named '" + name + "'");
}

void TrainableModel::zero_grad() {
  for (auto& p : params_) std::fill(p.grad.begin(), p.grad.end(), 0.0f);
}

void TrainableModel::prepare() {
  // Rebinds every layer to params_ too, so a copied or moved model works on its own tensors.
  const int64_t L = cfg_.num_layers, d = cfg_.hidden_size;
  lower_bounds_ = lower_bounds_from_params(params_[layout_.lower_bounds].value, L, d);
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  for (int64_t l = 0; l < L; ++l) {
    const bool use_lb = cfg_.use_lower_bound && l > 0;  // layer 0 has no lower bound
    layers_[l].mixer.prepare(params_, layout_.layers[l], use_lb ? lower_bounds_[l].data() : nullptr, eps, quantizers_);
    layers_[l].mlp.prepare(params_, layout_.layers[l], quantizers_);
  }
  lm_head_.prepare(params_, layout_.lm_head, quantizers_);
}

void TrainableModel::forward(const int32_t* tokens, int64_t B, int64_t T) {
  check(B > 0 && T > 0, "batch of " + std::to_string(B) + " x " + std::to_string(T) + " tokens: both must be > 0");
  const int64_t n = B * T, d = cfg_.hidden_size, L = cfg_.num_layers, V = cfg_.vocab_size;
  for (int64_t r = 0; r < n; ++r)
    if (tokens[r] < 0 || tokens[r] >= V)  // not check(): no message built per token
      throw Error("token id " + std::to_string(tokens[r]) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
  prepare();
  ws_.reserve(cfg_, n);
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  const std::vector<float>& emb = params_[layout_.embeddings].value;
  for (int64_t r = 0; r < n; ++r)
    std::copy_n(emb.data() + static_cast<int64_t>(tokens[r]) * d, d, ws_.layers[0].x_in.data() + r * d);
  for (int64_t l = 0; l < L; ++l) {
    LayerActivations& act = ws_.layers[l];
    const LayerIds& ids = layout_.layers[l];
    float* x_out = l + 1 < L ? ws_.layers[l + 1].x_in.data() : ws_.x_final.data();
    rmsnorm_rows_parallel(act.x_in.data(), params_[ids.attn_norm].value.data(), n, d, eps, act.a.data());
    layers_[l].mixer.forward(act.a.data(), B, T, act.mixer, ws_.branch.data(), ws_.bitlinear);
    for (int64_t i = 0; i < n * d; ++i) act.x_mid[i] = act.x_in[i] + ws_.branch[i];
    rmsnorm_rows_parallel(act.x_mid.data(), params_[ids.mlp_norm].value.data(), n, d, eps, act.m.data());
    layers_[l].mlp.forward(act.m.data(), n, act.mlp, ws_.branch.data(), ws_.bitlinear);
    for (int64_t i = 0; i < n * d; ++i) x_out[i] = act.x_mid[i] + ws_.branch[i];
  }
  rmsnorm_rows_parallel(ws_.x_final.data(), params_[layout_.final_norm].value.data(), n, d, eps, ws_.final_normed.data());
}

void TrainableModel::backward(const int32_t* tokens, int64_t B, int64_t T) {
  // ws_.d_branch holds the gradient at the LM head input.
  const int64_t n = B * T, d = cfg_.hidden_size, L = cfg_.num_layers;
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  Parameter& final_norm = params_[layout_.final_norm];
  rmsnorm_backward_rows(ws_.x_final.data(), final_norm.value.data(), ws_.d_branch.data(), n, d, eps, ws_.dx.data(),
                        false, final_norm.grad.data());
  std::fill(ws_.dlb.begin(), ws_.dlb.end(), 0.0f);
  for (int64_t l = L - 1; l >= 0; --l) {
    const LayerActivations& act = ws_.layers[l];
    const LayerIds& ids = layout_.layers[l];
    Parameter& mlp_norm = params_[ids.mlp_norm];
    Parameter& attn_norm = params_[ids.attn_norm];
    // x_out = x_mid + mlp(m): dx passes through the residual, the branch adds through mlp_norm.
    layers_[l].mlp.backward(act.m.data(), n, act.mlp, ws_.dx.data(), ws_.d_branch.data(), ws_.mlp_grad, ws_.bitlinear);
    rmsnorm_backward_rows(act.x_mid.data(), mlp_norm.value.data(), ws_.d_branch.data(), n, d, eps, ws_.dx.data(), true,
                          mlp_norm.grad.data());
    layers_[l].mixer.backward(act.a.data(), B, T, act.mixer, ws_.dx.data(), ws_.d_branch.data(), ws_.dlb.data() + l * d,
                              ws_.mixer_grad, ws_.bitlinear);
    rmsnorm_backward_rows(act.x_in.data(), attn_norm.value.data(), ws_.d_branch.data(), n, d, eps, ws_.dx.data(), true,
                          attn_norm.grad.data());
  }
  std::vector<float>& demb = params_[layout_.embeddings].grad;
  for (int64_t r = 0; r < n; ++r) {
    float* row = demb.data() + static_cast<int64_t>(tokens[r]) * d;
    const float* g = ws_.dx.data() + r * d;
    for (int64_t c = 0; c < d; ++c) row[c] += g[c];
  }
  if (cfg_.use_lower_bound) {
    Parameter& lb = params_[layout_.lower_bounds];
    lower_bounds_backward(lb.value, ws_.dlb.data(), L, d, lb.grad.data());
  }
}

double TrainableModel::forward_backward(const int32_t* tokens, int64_t B, int64_t T, float grad_scale) {
  check(T >= 2, "sequences of " + std::to_string(T) + " token(s) have no labelled position: need at least 2");
  forward(tokens, B, T);
  const auto labelled = static_cast<double>(labelled_positions(B, T));
  const double nll = lm_head_loss(lm_head_, ws_.final_normed.data(), tokens, B, T,
                                  static_cast<float>(grad_scale / labelled), ws_.d_branch.data(), ws_.lm, ws_.bitlinear);
  backward(tokens, B, T);
  return nll / labelled;
}

double TrainableModel::loss(const int32_t* tokens, int64_t B, int64_t T) {
  check(T >= 2, "sequences of " + std::to_string(T) + " token(s) have no labelled position: need at least 2");
  forward(tokens, B, T);
  const double nll = lm_head_loss(lm_head_, ws_.final_normed.data(), tokens, B, T, 0.0f, nullptr, ws_.lm, ws_.bitlinear);
  return nll / static_cast<double>(labelled_positions(B, T));
}

void TrainableModel::logits(const int32_t* tokens, int64_t B, int64_t T, float* out) {
  forward(tokens, B, T);
  lm_head_.forward(ws_.final_normed.data(), B * T, out, ws_.bitlinear);
}

void TrainableModel::save_hf(const std::string& dir) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  check(fs::is_directory(dir), dir + ": cannot create the directory" + (ec ? ": " + ec.message() : ""));
  write_file_atomically((fs::path(dir) / "config.json").string(),
                        [&](std::ostream& out) { out << cfg_.to_json().dump(2) << "\n"; });
  SafetensorsWriter w;
  for (const auto& p : params_) w.add_f32(p.name, p.shape, p.value);
  w.write((fs::path(dir) / "model.safetensors").string());
  // A shard index left from an earlier export would take precedence over the file just written.
  fs::remove(fs::path(dir) / "model.safetensors.index.json", ec);
}

}  // namespace mmfree
