#include "cli/command.h"

namespace mmfree::cli {

std::vector<CommandSetup>& command_setups() {
  static std::vector<CommandSetup> setups;
  return setups;
}

}  // namespace mmfree::cli
