// mmfree hw-sim in a build without Verilator: the command exists, so that `mmfree hw-sim` says
// why it cannot run instead of "unknown command", and exits 1 whatever flags it is given.
#include "cli/command.h"
#include "util/error.h"

namespace mmfree::cli {
namespace {

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("hw-sim", "Run a model on the simulated accelerator core (not in this build: needs Verilator)");
  cmd->allow_extras();
  cmd->callback([] {
    throw Error(
        "this build has no hardware simulator: Verilator was not found when it was configured; install it "
        "(scripts/deps.sh, or apt-get install verilator), then configure and build again (docs/HARDWARE.md)");
  });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
