#pragma once
// `mmfree plot`: train and validation loss against step, as a self-contained SVG.
#include <string>
#include <vector>

namespace mmfree {

struct LossCurves {
  std::vector<std::pair<double, double>> train, val;  // (step, loss)
};

// Reads the rows of a training log (train_log.h) that hold "loss" or "val_loss"; throws Error
// naming the file and line for a line that is not a JSON object, and when no row has a loss.
LossCurves read_loss_log(const std::string& path);

// Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, about `count` of them.
std::vector<double> nice_ticks(double lo, double hi, int count);

std::string loss_plot_svg(const LossCurves& c, const std::string& title);

}  // namespace mmfree
