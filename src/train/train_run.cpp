#include "train/train_run.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <unistd.h>

#include "format/hf_checkpoint.h"
#include "format/safetensors.h"
#include "model/convert_hf.h"
#include "train/adamw.h"
#include "train/batch_loader.h"
#include "train/checkpoint.h"
#include "train/data_prepare.h"
#include "train/lr_schedule.h"
#include "train/token_file.h"
#include "train/train_log.h"
#include "train/trainable_model.h"
#include "util/error.h"
#include "util/progress.h"

namespace mmfree {

namespace fs = std::filesystem;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// The data of a run: a prepared directory, or one fixed batch.
struct RunData {
  std::unique_ptr<TokenFile> train, val;
  std::unique_ptr<BatchLoader> loader;
  EvalBatches eval;
  std::vector<int32_t> fixed;  // [B][T] of --batch-file
  int64_t rows = 0, width = 0;  // a micro-batch is rows x width tokens (width - 1 labelled each)

  int64_t vocab_needed() const {  // of the fixed batch: its largest id + 1
    int64_t m = 0;
    for (int32_t id : fixed) m = std::max<int64_t>(m, id + 1);
    return m;
  }
};

RunData open_data(const TrainOptions& o) {
  RunData d;
  if (!o.batch_file.empty()) {
    check(fs::is_regular_file(o.batch_file), "--batch-file: " + o.batch_file + " is not a file");
    SafetensorsFile f(o.batch_file);
    const TensorView& t = f.get("input_ids");
    check(t.shape.size() == 2 && t.shape[0] > 0 && t.shape[1] >= 2,
          o.batch_file + ": tensor 'input_ids' must have shape [B, T] with B >= 1, T >= 2, got " + t.shape_str());
    for (int64_t id : t.to_i64()) {
      check(id >= 0 && id <= INT32_MAX, o.batch_file + ": input_ids holds the negative or huge id " + std::to_string(id));
      d.fixed.push_back(static_cast<int32_t>(id));
    }
    d.rows = t.shape[0];
    d.width = t.shape[1];
    return d;
  }
  check(fs::is_directory(o.data), "--data: " + o.data + " is not a directory (make one with `mmfree data prepare`)");
  for (const char* name : {"train.bin", "val.bin"})
    check(fs::is_regular_file(o.data + "/" + name),
          "--data: " + o.data + " has no " + name + " (make it with `mmfree data prepare`)");
  d.train = std::make_unique<TokenFile>(o.data + "/train.bin");
  d.val = std::make_unique<TokenFile>(o.data + "/val.bin");
  check(d.val->info().vocab_size == d.train->info().vocab_size,
        "--data: train.bin and val.bin were made with different vocabularies");
  d.loader = std::make_unique<BatchLoader>(*d.train, o.batch, o.seq_len, o.seed);
  if (o.eval_every > 0) {
    check(d.val->size() >= o.seq_len + 1, "--data: " + d.val->path() + " holds " + std::to_string(d.val->size()) +
                                              " tokens, fewer than --seq-len + 1 (use --eval-every 0 to skip validation)");
    d.eval = make_eval_batches(*d.val, o.batch, o.seq_len, o.eval_batches);
  }
  d.rows = o.batch;
  d.width = o.seq_len + 1;
  return d;
}

ModelConfig preset_config(const std::string& preset, const RunData& data) {
  ModelConfig c;
  if (preset == "370M") c.hidden_size = 1024, c.num_layers = 24;
  if (preset == "1.3B") c.hidden_size = 2048, c.num_layers = 24;
  if (preset == "2.7B") c.hidden_size = 2560, c.num_layers = 32;
  c.intermediate_size = ModelConfig::default_intermediate(c.hidden_size);
  if (data.train) {  // the vocabulary and special tokens of the prepared data
    c.vocab_size = data.train->info().vocab_size;
    if (data.train->info().bos_id >= 0) c.bos_token_id = data.train->info().bos_id;
    if (data.train->info().eos_id >= 0) c.eos_token_id = data.train->info().eos_id;
  }
  return c;
}

// The config the model-source flags describe, and which flag said so (for messages).
std::pair<ModelConfig, std::string> source_config(const TrainOptions& o, const RunData& data) {
  if (!o.preset.empty()) return {preset_config(o.preset, data), "--preset " + o.preset};
  if (!o.config.empty()) return {ModelConfig::from_file(o.config), "--config " + o.config};
  if (is_hf_directory(o.init_from))
    return {ModelConfig::from_file(o.init_from + "/config.json"), "--init-from " + o.init_from};
  check(fs::is_regular_file(o.init_from),
        "--init-from: " + o.init_from + " is neither a model directory (config.json + safetensors) nor a checkpoint file");
  return {Checkpoint(o.init_from).meta().config, "--init-from " + o.init_from};
}

DeviceOptions device_of(const TrainOptions& o) { return {o.device, o.threads, "", o.backward_gemm}; }

TrainableModel make_model(const TrainOptions& o, const ModelConfig& c) {
  if (o.init_from.empty()) return TrainableModel::random_init(c, o.seed, device_of(o));
  if (is_hf_directory(o.init_from)) return TrainableModel::from_checkpoint(o.init_from, device_of(o));
  TrainableModel m = TrainableModel::zeros(c, device_of(o));
  Checkpoint(o.init_from).restore(c, m.params(), nullptr);
  m.arena().upload();
  return m;
}

// What must not change between a run and its resumption, or the batches would differ.
void check_resumable(const TrainOptions& now, const nlohmann::json& then, const std::string& where) {
  const auto j = now.to_json();
  for (const char* key : {"data", "batch-file", "batch", "seq-len", "grad-accum", "seed"})
    check(j.at(key) == then.value(key, nlohmann::json()),
          "--resume: --" + std::string(key) + " " + j.at(key).dump() + " differs from " + then.value(key, nlohmann::json()).dump() +
              " of the run that wrote " + where + " (the batches would differ)");
}

// The least memory training takes: the weights, gradients and two AdamW moments (16 bytes per
// parameter), and per token of a micro-batch the layer inputs kept for backward (4 x d floats a
// layer) and the logits. Checked against the machine's memory before anything is allocated, so a
// huge config is named instead of ending in a bare "out of memory".
void check_training_memory(const ModelConfig& c, double tokens) {
  const double params = static_cast<double>(c.parameter_count());
  const double activations = 4.0 * tokens *
                             (4.0 * static_cast<double>(c.num_layers * c.hidden_size) + static_cast<double>(c.vocab_size));
  const double need = 16.0 * params + activations;
  const double have = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  auto bytes = [](double b) { return std::to_string(static_cast<uint64_t>(b)) + " bytes"; };
  check(need <= have, "training this model needs at least " + bytes(need) + " of memory (" +
                          std::to_string(c.parameter_count()) + " parameters at 16 bytes for the weights, gradients and "
                          "AdamW moments, and " + bytes(activations) + " of activations for " + std::to_string(static_cast<uint64_t>(tokens)) +
                          " tokens per micro-batch); this machine has " + bytes(have));
}

// Temp files of atomic writes that a killed run left behind (write_file_atomically names them
// FILE.tmp.PID); the finished files they were meant to replace are intact.
void remove_stale_temp_files(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && e.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(e.path(), ec);
}

}  // namespace

TrainResult run_training(const TrainOptions& o_in, const TrainHooks& hooks_in) {
  TrainOptions o = o_in;
  o.validate();
  // Absolute paths, so that a resume from another directory finds them equal.
  if (!o.data.empty()) o.data = fs::weakly_canonical(o.data).string();
  if (!o.batch_file.empty()) o.batch_file = fs::weakly_canonical(o.batch_file).string();
  for (std::string* p : {&o.config, &o.init_from, &o.log})
    if (!p->empty()) *p = fs::weakly_canonical(*p).string();
  TrainHooks hooks = hooks_in;  // the ones not given do nothing
  if (!hooks.message) hooks.message = [](const std::string&) {};
  if (!hooks.step) hooks.step = [](const StepReport&) {};
  if (!hooks.eval) hooks.eval = [](int64_t, double) {};
  if (!hooks.should_stop) hooks.should_stop = [] { return false; };
  std::error_code ec;
  fs::create_directories(o.out, ec);
  check(fs::is_directory(o.out), "--out: cannot create the directory " + o.out);
  const std::string ckpt_path = o.out + "/" + kCheckpointFile;
  remove_stale_temp_files(o.out);
  if (fs::is_directory(o.out + "/hf")) remove_stale_temp_files(o.out + "/hf");

  RunData data = open_data(o);
  std::optional<Checkpoint> resume_from;
  ModelConfig cfg;
  if (o.resume) {
    check(fs::exists(ckpt_path), "--resume: " + o.out + " holds no checkpoint (" + kCheckpointFile + ")");
    resume_from.emplace(ckpt_path);
    cfg = resume_from->meta().config;
    if (!o.preset.empty() || !o.config.empty() || !o.init_from.empty()) {
      const auto [want, flag] = source_config(o, data);
      const std::string diff = config_difference(cfg, want);
      check(diff.empty(), "--resume: " + ckpt_path + " holds another model than " + flag + " (checkpoint vs " + flag +
                              ": " + diff + ")");
    }
    check_resumable(o, resume_from->meta().options, ckpt_path);
  } else {
    check(!fs::exists(ckpt_path), "--out: " + o.out + " already holds a checkpoint; pass --resume to continue it, "
                                  "or choose another --out");
    cfg = source_config(o, data).first;
  }
  if (data.train)
    check(data.train->info().vocab_size <= cfg.vocab_size,
          "--data: the token files use a vocabulary of " + std::to_string(data.train->info().vocab_size) +
              ", larger than the model's vocab_size " + std::to_string(cfg.vocab_size));
  else
    check(data.vocab_needed() <= cfg.vocab_size, "--batch-file: input_ids holds the id " +
                                                     std::to_string(data.vocab_needed() - 1) +
                                                     ", outside the model's vocabulary of " + std::to_string(cfg.vocab_size));

  check_training_memory(cfg, static_cast<double>(data.rows) * static_cast<double>(data.width));
  std::optional<Progress> starting(std::in_place, "setting up the model and optimizer");
  TrainableModel model = resume_from ? TrainableModel::zeros(cfg, device_of(o)) : make_model(o, cfg);
  model.set_recompute(parse_recompute(o.recompute));
  AdamWOptions ao;
  ao.beta1 = o.beta1;
  ao.beta2 = o.beta2;
  ao.eps = o.adam_eps;
  ao.weight_decay = o.weight_decay;
  ao.exclude_norms_from_decay = o.no_decay_norms;
  AdamW opt(model.arena(), ao);
  int64_t step = 0;
  double elapsed_before = 0;
  if (resume_from) {
    resume_from->restore(cfg, model.params(), &opt);
    model.arena().upload();
    opt.upload();
    if (data.loader) data.loader->restore(resume_from->meta().loader);
    step = resume_from->meta().step;
    elapsed_before = resume_from->meta().elapsed_s;
    hooks.message("resuming " + ckpt_path + " at step " + std::to_string(step));
  }
  starting.reset();
  const LrSchedule sched{parse_lr_schedule(o.lr_schedule), o.lr, o.min_lr, o.warmup, o.steps};
  TrainLog log(o.log_path(), resume_from ? step : -1);
  const int64_t tokens_per_step = o.grad_accum * data.rows * (data.width - 1);
  hooks.message("model: " + std::to_string(cfg.parameter_count()) + " parameters (d " + std::to_string(cfg.hidden_size) +
                ", " + std::to_string(cfg.num_layers) + " layers, vocab " + std::to_string(cfg.vocab_size) + "); " +
                std::to_string(tokens_per_step) + " tokens per step; " + std::to_string(o.steps) + " steps");

  const auto t_start = clock_type::now();
  auto elapsed = [&] { return elapsed_before + seconds_since(t_start); };
  auto save = [&] {
    const Progress saving("saving step " + std::to_string(step));  // the file being written shows instead
    CheckpointMeta meta;
    meta.config = cfg;
    meta.step = step;
    meta.adam_steps = opt.steps_taken();
    meta.elapsed_s = elapsed();
    if (data.loader) meta.loader = data.loader->state();
    meta.options = o.to_json();
    model.arena().download();  // the host views (a device backend's mirror) made current
    opt.download();
    // The export follows the checkpoint only once the checkpoint has been verified (finite weights
    // that read back whole), so a diverged run leaves both the previous checkpoint and export.
    try {
      save_checkpoint(ckpt_path, model.params(), opt, meta);
    } catch (const Error& e) {
      throw Error("step " + std::to_string(step) + ": the checkpoint was not saved, " + ckpt_path +
                  " and the export keep the previous one: " + e.what());
    }
    model.save_hf(o.out + "/hf");
    if (!o.data.empty()) copy_tokenizer_files(o.data, o.out + "/hf");
    // The packed file for inference: ternary weights, the exact scales, the tokenizer inside.
    convert_hf_to_gguf(HfCheckpoint(o.out + "/hf"), o.out + "/model.gguf", ModelFileOptions{TernaryFormat::TQ2_0_R8, GgmlType::F32, "mmfree-trained", {}});
    hooks.message("checkpoint at step " + std::to_string(step) + ": " + ckpt_path + ", model in " + o.out + "/hf and " +
                  o.out + "/model.gguf");
  };
  double eval_s = 0;  // the last evaluation's time, for the ETA
  auto evaluate = [&] {
    const auto t0 = clock_type::now();
    Progress progress("validation", static_cast<double>(data.eval.batches.size()), "batches");
    double sum = 0;
    for (const auto& b : data.eval.batches) {
      sum += model.loss(b.data(), data.eval.rows_per_batch, o.seq_len + 1);
      progress.add(1);
    }
    eval_s = seconds_since(t0);
    const double val = sum / static_cast<double>(data.eval.batches.size());
    log.write({{"step", step}, {"val_loss", val}, {"val_ppl", std::exp(val)}});
    hooks.eval(step, val);
  };

  // The ETA counts step time only (a step of this process; evaluations apart), and leaves out the
  // first step, which pays for first touches of the workspaces and moments.
  double steps_s = 0, first_step_s = 0;
  int64_t timed_steps = 0;
  auto evaluations_from = [&](int64_t from) {  // at the loop's checks for step = from .. o.steps
    if (o.eval_every <= 0 || !data.train) return int64_t{0};
    return o.steps / o.eval_every - (from - 1) / o.eval_every + (o.steps % o.eval_every != 0 ? 1 : 0);
  };
  std::vector<int32_t> batch;
  bool saved_at_step = false;
  while (true) {
    if (o.eval_every > 0 && data.train && (step % o.eval_every == 0 || step == o.steps)) evaluate();
    if (step >= o.steps) break;
    if (hooks.should_stop()) {
      if (!saved_at_step) save();
      return {step, true, ckpt_path};
    }
    const auto t0 = clock_type::now();
    const double lr = sched.at(step);
    model.zero_grad();
    double loss = 0;
    for (int64_t a = 0; a < o.grad_accum; ++a) {
      if (data.loader) data.loader->next(batch);
      const int32_t* tokens = data.loader ? batch.data() : data.fixed.data();
      loss += model.forward_backward(tokens, data.rows, data.width, 1.0f / static_cast<float>(o.grad_accum));
    }
    loss /= static_cast<double>(o.grad_accum);
    const double grad_norm = global_grad_norm(model.arena());
    // Stop before the update: the weights stay those of the last step, and nothing is saved.
    check(std::isfinite(loss) && std::isfinite(grad_norm),
          "step " + std::to_string(step) + ": the loss is " + std::to_string(loss) + " and the gradient norm " +
              std::to_string(grad_norm) + "; training stopped before this update (lower --lr or set --grad-clip); " +
              (fs::exists(ckpt_path) ? ckpt_path + " is left as it was" : "no checkpoint was written"));
    opt.step(lr, o.grad_clip > 0 ? clip_coefficient(grad_norm, o.grad_clip) : 1.0f);
    const double dt = seconds_since(t0);
    StepReport r;
    r.step = step;
    r.steps = o.steps;
    r.loss = loss;
    r.lr = lr;
    r.grad_norm = grad_norm;
    r.tokens_per_s = static_cast<double>(tokens_per_step) / std::max(dt, 1e-9);
    r.elapsed_s = elapsed();
    if (timed_steps++ == 0) first_step_s = dt;
    steps_s += dt;
    const double per_step = timed_steps > 1 ? (steps_s - first_step_s) / static_cast<double>(timed_steps - 1) : dt;
    r.eta_s = per_step * static_cast<double>(o.steps - step - 1) + eval_s * static_cast<double>(evaluations_from(step + 1));
    log.write({{"step", step},
               {"loss", loss},
               {"lr", lr},
               {"grad_norm", grad_norm},
               {"tokens", (step + 1) * tokens_per_step},
               {"tokens_per_s", r.tokens_per_s},
               {"elapsed_s", r.elapsed_s}});
    ++step;
    hooks.step(r);
    saved_at_step = false;
    if ((o.save_every > 0 && step % o.save_every == 0) || step == o.steps) {
      save();
      saved_at_step = true;
    }
  }
  if (!saved_at_step) save();  // a run with nothing left to do still leaves its checkpoint and export
  return {step, false, ckpt_path};
}

}  // namespace mmfree
