#pragma once
// One training run: model, optimizer and data set up from TrainOptions (or from the checkpoint in
// --out when resuming), then steps, periodic validation, atomic checkpoints and the Hugging Face
// export in OUT/hf. The caller shows progress through the hooks and asks for a stop (Ctrl-C)
// through should_stop, which is checked between steps.
#include <cstdint>
#include <functional>
#include <string>

#include "train/train_options.h"

namespace mmfree {

struct StepReport {
  int64_t step = 0, steps = 0;  // this update's index (0-based) and the run's total
  double loss = 0, lr = 0, grad_norm = 0;
  double tokens_per_s = 0;      // labelled tokens of this step / its wall time
  double elapsed_s = 0, eta_s = 0;
};

struct TrainHooks {
  std::function<void(const std::string&)> message;       // one line of news (start, resume, checkpoint)
  std::function<void(const StepReport&)> step;
  std::function<void(int64_t step, double val_loss)> eval;
  std::function<bool()> should_stop;
};

struct TrainResult {
  int64_t step = 0;          // updates done when the run ended
  bool interrupted = false;  // stopped by should_stop; a checkpoint was saved
  std::string checkpoint;    // path of the last checkpoint
};

inline constexpr const char* kCheckpointFile = "checkpoint.safetensors";

TrainResult run_training(const TrainOptions& o, const TrainHooks& hooks);

}  // namespace mmfree
