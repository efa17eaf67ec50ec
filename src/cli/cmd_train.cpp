// mmfree train: quantization-aware training from scratch, from a checkpoint, or on one fixed batch
// (for checks against other implementations). Ctrl-C saves a checkpoint and exits; --resume continues.
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>

#include "cli/command.h"
#include "cli/inputs.h"
#include "model/model.h"
#include "train/checkpoint.h"
#include "train/progress_text.h"
#include "train/train_run.h"
#include "util/error.h"

namespace mmfree::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void on_sigint(int) { g_interrupted = 1; }

// SIGINT sets a flag that the run checks between steps; a second Ctrl-C kills at once
// (SA_RESETHAND restores the default action after the first).
struct SigintGuard {
  struct sigaction old_action {};
  SigintGuard() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_action);
  }
  ~SigintGuard() { sigaction(SIGINT, &old_action, nullptr); }
};

struct TrainCli {
  TrainOptions opt;
  std::string betas = "0.9,0.95";
  int64_t print_every = 10;
  CLI::App* cmd = nullptr;
  std::vector<std::string> from_checkpoint;  // settings a resumed run took from its checkpoint
};

// An error about a setting the resumed run took from its checkpoint names the checkpoint, not a
// flag the user did not pass: "--data: X is not a directory" -> "--data (from the checkpoint): ...".
Error blame_checkpoint(const TrainCli& c, const Error& e) {
  const std::string m = e.what();
  for (const auto& key : c.from_checkpoint) {
    const std::string flag = "--" + key;
    if (m.starts_with(flag + ":") || m.starts_with(flag + " "))
      return Error(flag + " (not given; taken from the checkpoint in " + c.opt.out + ")" + m.substr(flag.size()));
  }
  return e;
}

void parse_betas(const std::string& s, TrainOptions& o) {
  std::istringstream in(s);
  char comma = 0;
  std::string rest;
  if (!(in >> o.beta1 >> comma >> o.beta2) || comma != ',' || (in >> rest))
    throw Error("--betas: expected two numbers like 0.9,0.95, got '" + s + "'");
}

// True when `path` lies inside directory `dir` (after resolving both).
bool inside(const std::string& path, const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string d = fs::weakly_canonical(fs::absolute(dir)).string() + "/";
  return fs::weakly_canonical(fs::absolute(path)).string().starts_with(d);
}

// A resumed run takes every setting not given on the command line from its checkpoint, except
// the model source (the checkpoint holds the model itself; a stored relative --config would name
// another file from another directory). The stored settings are checked on their own first, so
// that a bad one is blamed on the checkpoint, not on a flag the user never passed.
void merge_resumed_options(TrainCli& c) {
  const std::string path = c.opt.out + "/" + kCheckpointFile;
  check(!c.opt.out.empty(), "--out: required");
  check(std::filesystem::exists(path), "--resume: " + c.opt.out + " holds no checkpoint (" + kCheckpointFile + ")");
  const nlohmann::json stored = Checkpoint(path).meta().options;
  try {
    TrainOptions s = TrainOptions::from_json(stored, path);
    s.resume = true;
    s.validate();
  } catch (const Error& e) {
    throw Error(path + ": the checkpoint's stored training options are invalid (" + e.what() + ")");
  }
  nlohmann::json now = c.opt.to_json();
  for (const auto& [key, value] : stored.items())
    if (now.contains(key) && c.cmd->count("--" + key) == 0 && key != "preset" && key != "config" && key != "init-from" &&
        now[key] != value) {
      now[key] = value;
      c.from_checkpoint.push_back(key);
    }
  // A stored --log outside the run directory is written only when asked again: the checkpoint may
  // come from elsewhere, and appending to an unrelated file would destroy it.
  const std::string stored_log = stored.value("log", "");
  check(c.cmd->count("--log") > 0 || stored_log.empty() || inside(stored_log, c.opt.out),
        "--resume: the checkpoint's log " + stored_log + " lies outside the run directory " + c.opt.out +
            "; pass --log " + stored_log + " to append to it, or another --log");
  c.opt = TrainOptions::from_json(now, path);
  c.opt.resume = true;
}

void run(TrainCli& c) {
  if (c.cmd->count("--betas")) parse_betas(c.betas, c.opt);
  if (c.opt.resume) merge_resumed_options(c);
  const bool tty = ::isatty(STDERR_FILENO);
  bool bar_shown = false;
  auto clear_bar = [&] {
    if (bar_shown) std::fprintf(stderr, "\r\x1b[K");
    bar_shown = false;
  };
  TrainHooks hooks;
  hooks.message = [&](const std::string& m) {
    clear_bar();
    print_above_progress(m);
  };
  hooks.step = [&](const StepReport& r) {
    if (tty) {
      std::fprintf(stderr, "\r\x1b[K%s", progress_line(r, 30).c_str());
      bar_shown = true;
    } else if (r.step == 0 || r.step + 1 == r.steps || (r.step + 1) % c.print_every == 0) {
      std::fprintf(stderr, "%s\n", progress_line(r, 0).c_str());
    }
    std::fflush(stderr);
  };
  hooks.eval = [&](int64_t step, double val) {
    clear_bar();
    char line[96];
    std::snprintf(line, sizeof line, "step %lld  val_loss %.4f  val_ppl %.2f", static_cast<long long>(step), val, std::exp(val));
    print_above_progress(line);  // the validation's status line may still be drawn
  };
  hooks.should_stop = [] { return g_interrupted != 0; };
  g_interrupted = 0;
  TrainResult res;
  {
    SigintGuard guard;
    try {
      res = run_training(c.opt, hooks);
    } catch (const Error& e) {
      throw blame_checkpoint(c, e);
    }
  }
  clear_bar();
  if (res.interrupted) {
    std::fprintf(stderr, "interrupted at step %lld: checkpoint saved in %s; continue with --resume --out %s\n",
                 static_cast<long long>(res.step), res.checkpoint.c_str(), c.opt.out.c_str());
    std::fflush(stderr);
    std::exit(130);  // the shell's code for "stopped by Ctrl-C", after everything was saved
  }
  std::fprintf(stderr, "done: %lld steps; checkpoint %s; model in %s/hf and %s/model.gguf\n",
               static_cast<long long>(res.step), res.checkpoint.c_str(), c.opt.out.c_str(), c.opt.out.c_str());
}

void setup(CLI::App& app) {
  auto c = std::make_shared<TrainCli>();
  TrainOptions& o = c->opt;
  auto* cmd = app.add_subcommand("train", "Train a model (quantization-aware, straight-through estimators)");
  c->cmd = cmd;
  cmd->add_option("--preset", o.preset, "New model of a released size: 370M, 1.3B, 2.7B (vocabulary from the data)");
  cmd->add_option("--config", o.config, "New model with the sizes of this config.json");
  cmd->add_option("--init-from", o.init_from, "Start from a model directory (Hugging Face layout) or a training checkpoint");
  cmd->add_option("--data", o.data, "Prepared data directory (mmfree data prepare): train.bin, val.bin");
  cmd->add_option("--batch-file", o.batch_file,
                  "Train every step on this batch: safetensors with input_ids [B,T] (checks against other implementations)");
  cmd->add_option("--batch", o.batch, "Sequences per micro-batch")->capture_default_str();
  cmd->add_option("--seq-len", o.seq_len, "Tokens per sequence (labelled positions)")->capture_default_str();
  cmd->add_option("--steps", o.steps, "Optimizer steps of the whole run")->capture_default_str();
  cmd->add_option("--grad-accum", o.grad_accum, "Micro-batches per step (gradients averaged)")->capture_default_str();
  cmd->add_option("--lr", o.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--lr-schedule", o.lr_schedule, "constant | cosine | paper (cosine whose peak halves at mid-training)")
      ->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Linear warmup steps (cosine, paper)")->capture_default_str();
  cmd->add_option("--min-lr", o.min_lr, "Learning rate at the end of the cosine")->capture_default_str();
  cmd->add_option("--betas", c->betas, "AdamW betas, as b1,b2")->capture_default_str();
  cmd->add_option("--adam-eps", o.adam_eps, "AdamW epsilon")->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  cmd->add_flag("--no-decay-norms", o.no_decay_norms, "No weight decay on norm weights, lower bounds and embeddings");
  cmd->add_option("--grad-clip", o.grad_clip, "Clip the global gradient norm to this (0: off)")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of the initial weights and the batch order")->capture_default_str();
  cmd->add_option("--eval-every", o.eval_every, "Validation loss every N steps (0: never)")->capture_default_str();
  cmd->add_option("--eval-batches", o.eval_batches, "Validation batches (the first windows of val.bin)")->capture_default_str();
  cmd->add_option("--save-every", o.save_every, "Checkpoint every N steps (0: only at the end)")->capture_default_str();
  cmd->add_option("--out", o.out, "Output directory: checkpoint.safetensors, hf/ (exported model), train_log.jsonl")
      ->required();
  cmd->add_option("--log", o.log, "JSONL log (default OUT/train_log.jsonl)");
  cmd->add_option("--recompute", o.recompute,
                  "What the backward forms again instead of the forward keeping it, per token and layer: none (keeps "
                  "9d + 3I floats), inputs (6d + 2I; element-wise passes again), branch (4d; half the block's "
                  "forward again) or block (d; the whole block's forward again). The same numbers")
      ->check(CLI::IsMember(recompute_names()))
      ->capture_default_str();
  cmd->add_option("--device", o.device, "Where to train: cpu (default), ref (the plain reference formulas), cuda, cuda:N")->capture_default_str();
  add_backward_gemm_option(cmd, o.backward_gemm);
  cmd->add_option("--threads", o.threads, "Threads of the cpu device (0: physical cores)")->capture_default_str();
  cmd->add_option("--print-every", c->print_every, "Without a terminal: a progress line every N steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--resume", o.resume, "Continue the checkpoint in --out (settings not given are taken from it)");
  cmd->callback([c] { run(*c); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
