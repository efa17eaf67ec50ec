#pragma once
// Text for training progress on a terminal or in plain lines.
#include <string>

#include "train/train_run.h"
#include "util/progress.h"

namespace mmfree {

// "step 12/100  loss 5.1234  lr 1.50e-03  12.3k tok/s  ETA 1m23s", with a bar of `bar_width`
// cells in front when bar_width > 0.
std::string progress_line(const StepReport& r, int bar_width);

}  // namespace mmfree
