#include "train/train_options.h"

#include "model/model.h"
#include "train/lr_schedule.h"
#include "util/error.h"

namespace mmfree {

nlohmann::json TrainOptions::to_json() const {
  return {{"preset", preset},
          {"config", config},
          {"init-from", init_from},
          {"data", data},
          {"batch-file", batch_file},
          {"batch", batch},
          {"seq-len", seq_len},
          {"steps", steps},
          {"grad-accum", grad_accum},
          {"lr", lr},
          {"lr-schedule", lr_schedule},
          {"warmup", warmup},
          {"min-lr", min_lr},
          {"betas", {beta1, beta2}},
          {"adam-eps", adam_eps},
          {"weight-decay", weight_decay},
          {"no-decay-norms", no_decay_norms},
          {"grad-clip", grad_clip},
          {"seed", seed},
          {"eval-every", eval_every},
          {"eval-batches", eval_batches},
          {"save-every", save_every},
          {"out", out},
          {"log", log},
          {"device", device},
          {"recompute", recompute},
          {"threads", threads}};
}

TrainOptions TrainOptions::from_json(const nlohmann::json& j, const std::string& where) {
  TrainOptions o;
  // A float where an integer belongs would be cast out of range (undefined): refused first.
  for (const char* key : {"batch", "seq-len", "steps", "grad-accum", "warmup", "seed", "eval-every", "eval-batches",
                          "save-every", "threads"})
    check(!j.is_object() || !j.contains(key) || j[key].is_number_integer(),
          where + ": malformed training options: '" + key + "' is not an integer");
  try {
    o.preset = j.at("preset");
    o.config = j.at("config");
    o.init_from = j.at("init-from");
    o.data = j.at("data");
    o.batch_file = j.at("batch-file");
    o.batch = j.at("batch");
    o.seq_len = j.at("seq-len");
    o.steps = j.at("steps");
    o.grad_accum = j.at("grad-accum");
    o.lr = j.at("lr");
    o.lr_schedule = j.at("lr-schedule");
    o.warmup = j.at("warmup");
    o.min_lr = j.at("min-lr");
    o.beta1 = j.at("betas").at(0);
    o.beta2 = j.at("betas").at(1);
    o.adam_eps = j.at("adam-eps");
    o.weight_decay = j.at("weight-decay");
    o.no_decay_norms = j.at("no-decay-norms");
    o.grad_clip = j.at("grad-clip");
    o.seed = j.at("seed");
    o.eval_every = j.at("eval-every");
    o.eval_batches = j.at("eval-batches");
    o.save_every = j.at("save-every");
    o.out = j.at("out");
    o.log = j.at("log");
    o.threads = j.at("threads");
    o.device = j.value("device", "cpu");  // absent before training had a --device
    // A bool before the levels: true was today's "inputs".
    const auto r = j.value("recompute", nlohmann::json(false));
    o.recompute = r.is_boolean() ? (r.get<bool>() ? "inputs" : "none") : r.get<std::string>();
    parse_recompute(o.recompute);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": malformed training options: " + e.what());
  }
  return o;
}

void TrainOptions::validate() const {
  check(!out.empty(), "--out: required (the directory for checkpoints, the log and the exported model)");
  check(data.empty() != batch_file.empty(), "give exactly one of --data DIR (prepared) and --batch-file FILE");
  if (!resume) {
    const int sources = !preset.empty() + !config.empty() + !init_from.empty();
    check(sources == 1, "a new run needs exactly one of --preset, --config, --init-from (or --resume to continue "
                        "the checkpoint in --out)");
  }
  check(preset.empty() || preset == "370M" || preset == "1.3B" || preset == "2.7B",
        "--preset: '" + preset + "' is not one of 370M, 1.3B, 2.7B");
  check(batch > 0, "--batch: must be positive");
  check(seq_len > 0, "--seq-len: must be positive");
  check(steps >= 0, "--steps: must not be negative");
  check(grad_accum > 0, "--grad-accum: must be positive");
  check(lr >= 0, "--lr: must not be negative");
  parse_lr_schedule(lr_schedule);
  check(warmup >= 0, "--warmup: must not be negative");
  check(min_lr >= 0 && min_lr <= lr, "--min-lr: must lie in [0, --lr]");
  check(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "--betas: each must lie in [0, 1)");
  check(adam_eps > 0, "--adam-eps: must be positive");
  check(weight_decay >= 0, "--weight-decay: must not be negative");
  check(grad_clip >= 0, "--grad-clip: must not be negative (0 turns clipping off)");
  check(eval_every >= 0 && eval_batches > 0, "--eval-every must not be negative and --eval-batches must be positive");
  check(save_every >= 0, "--save-every: must not be negative");
  check(threads >= 0, "--threads: must not be negative");
}

std::string TrainOptions::log_path() const { return log.empty() ? out + "/train_log.jsonl" : log; }

}  // namespace mmfree
