// mmfree plot: the loss curves of a training log as an SVG.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "train/loss_plot.h"
#include "util/atomic_write.h"

namespace mmfree::cli {
namespace {

struct PlotOptions {
  std::string log, out, title;
};

void run(const PlotOptions& o) {
  const LossCurves c = read_loss_log(o.log);
  const std::string title = o.title.empty() ? std::filesystem::path(o.log).filename().string() : o.title;
  const std::string svg = loss_plot_svg(c, title);
  write_file_atomically(o.out, [&](std::ostream& out) { out << svg; });
  std::printf("%zu train and %zu validation points -> %s\n", c.train.size(), c.val.size(), o.out.c_str());
}

void setup(CLI::App& app) {
  auto o = std::make_shared<PlotOptions>();
  auto* cmd = app.add_subcommand("plot", "Draw train and validation loss of a training log (JSONL) as an SVG");
  cmd->add_option("--log", o->log, "Training log (train_log.jsonl)")->required();
  cmd->add_option("--out", o->out, "SVG file to write")->required();
  cmd->add_option("--title", o->title, "Title (default: the log's file name)");
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
