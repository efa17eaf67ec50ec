#pragma once
// The settings of one `mmfree train` run. They are stored in every checkpoint (as JSON, keyed by
// flag name), so that `--resume` can continue with the same ones.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace mmfree {

struct TrainOptions {
  // Where the model comes from: exactly one of these for a new run (a resumed run takes its
  // checkpoint's and checks any of these given against it).
  std::string preset;     // "370M" | "1.3B" | "2.7B"
  std::string config;     // a config.json with the sizes
  std::string init_from;  // a Hugging Face directory or an mmfree training checkpoint
  // The data: a prepared directory (train.bin, val.bin), or one fixed batch for every step.
  std::string data, batch_file;
  int64_t batch = 8, seq_len = 256, steps = 1000, grad_accum = 1;
  double lr = 1.5e-3;
  std::string lr_schedule = "cosine";
  int64_t warmup = 0;
  double min_lr = 0;
  double beta1 = 0.9, beta2 = 0.95, adam_eps = 1e-8, weight_decay = 0.1;
  bool no_decay_norms = false;
  double grad_clip = 1.0;  // 0: no clipping
  uint64_t seed = 1;
  int64_t eval_every = 100, eval_batches = 16, save_every = 500;  // 0: never (a checkpoint is still saved at the end)
  std::string out, log;  // log defaults to OUT/train_log.jsonl
  std::string device = "cpu";  // ref | cpu | cuda[:N]
  std::string backward_gemm;   // DeviceOptions::backward_gemm
  std::string recompute = "none";  // none | inputs | branch (TrainableModel::set_recompute)
  int threads = 0;       // the cpu backend's; 0: physical cores
  bool resume = false;   // not stored

  nlohmann::json to_json() const;
  // Reads what to_json wrote; `where` names the source in error messages.
  static TrainOptions from_json(const nlohmann::json& j, const std::string& where);
  // Checks ranges and combinations; throws Error naming the flag.
  void validate() const;
  std::string log_path() const;
};

}  // namespace mmfree
