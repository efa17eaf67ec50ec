#include "train/trainable_model.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "format/hf_checkpoint.h"
#include "format/safetensors.h"
#include "model/tensor_names.h"
#include "train/init_weights.h"
#include "util/atomic_write.h"
#include "util/error.h"

namespace mmfree {

namespace fs = std::filesystem;

TrainableModel::TrainableModel(const ModelConfig& c, std::shared_ptr<Backend> backend)
    : cfg_(c),
      be_(std::move(backend)),
      arena_(std::make_unique<ParameterArena>(*be_, expected_tensors(c))),
      model_(std::make_unique<Model>(cfg_, *arena_, be_, false)) {}

TrainableModel TrainableModel::from_checkpoint(const std::string& hf_dir, const DeviceOptions& device) {
  check(is_hf_directory(hf_dir), hf_dir + ": not a model (expected a directory with config.json)");
  return from_checkpoint(hf_dir, make_backend(device));
}

TrainableModel TrainableModel::from_checkpoint(const std::string& hf_dir, std::shared_ptr<Backend> backend) {
  check(is_hf_directory(hf_dir), hf_dir + ": not a model (expected a directory with config.json)");
  const HfCheckpoint ck(hf_dir);
  TrainableModel m(ck.config(), std::move(backend));
  for (Parameter& p : m.params()) {
    const std::vector<float> value = ck.tensor(p.name).to_f32();
    check(value.size() == p.value.size(), hf_dir + ": tensor '" + p.name + "' has the wrong size");
    std::copy(value.begin(), value.end(), p.value.begin());
  }
  m.arena().upload();
  return m;
}

TrainableModel TrainableModel::zeros(const ModelConfig& c, const DeviceOptions& device) {
  return TrainableModel(c, make_backend(device));
}

TrainableModel TrainableModel::random_init(const ModelConfig& c, uint64_t seed, const DeviceOptions& device) {
  TrainableModel m(c, make_backend(device));
  init_parameters(c, seed, m.arena());
  return m;
}

void TrainableModel::set_quantizers(Quantizers q) {
  if (q == quantizers_) return;
  quantizers_ = q;
  buffers_.reset();
  model_ = std::make_unique<Model>(cfg_, *arena_, be_, q == Quantizers::Identity);
}

void TrainableModel::set_recompute(Recompute r) {
  if (r == recompute_) return;
  recompute_ = r;
  buffers_.reset();
}

void TrainableModel::zero_grad() { be_->fill_zero(arena_->grads(), arena_->size() * static_cast<int64_t>(sizeof(float))); }

TrainBuffers& TrainableModel::prepare(int64_t B, int64_t T) {
  if (!buffers_ || buffers_->B != B || buffers_->T != T) {
    buffers_.reset();  // the old shape's memory first
    buffers_ = std::make_unique<TrainBuffers>(*model_, B, T, recompute_);
  }
  model_->prepare_step();
  return *buffers_;
}

double TrainableModel::forward_backward(const int32_t* tokens, int64_t B, int64_t T, float grad_scale) {
  check(T >= 2, "sequences of " + std::to_string(T) + " token(s) have no labelled position: need at least 2");
  const auto labelled = static_cast<double>(labelled_positions(B, T));
  const float coef = static_cast<float>(grad_scale / labelled);
  return model_->train_pass(tokens, prepare(B, T), coef) / labelled;
}

double TrainableModel::loss(const int32_t* tokens, int64_t B, int64_t T) {
  check(T >= 2, "sequences of " + std::to_string(T) + " token(s) have no labelled position: need at least 2");
  return model_->train_pass(tokens, prepare(B, T), 0.0f) / static_cast<double>(labelled_positions(B, T));
}

void TrainableModel::logits(const int32_t* tokens, int64_t B, int64_t T, float* out) {
  model_->train_logits(tokens, prepare(B, T), out);
}

void TrainableModel::save_hf(const std::string& dir) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  check(fs::is_directory(dir), dir + ": cannot create the directory" + (ec ? ": " + ec.message() : ""));
  write_file_atomically((fs::path(dir) / "config.json").string(),
                        [&](std::ostream& out) { out << cfg_.to_json().dump(2) << "\n"; });
  arena_->download();
  SafetensorsWriter w;
  for (const auto& p : params()) w.add_f32(p.name, p.shape, p.value);
  w.write((fs::path(dir) / "model.safetensors").string());
  // A shard index left from an earlier export would take precedence over the file just written.
  fs::remove(fs::path(dir) / "model.safetensors.index.json", ec);
}

}  // namespace mmfree
