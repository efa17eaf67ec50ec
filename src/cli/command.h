#pragma once
// Each subcommand lives in its own cli/cmd_*.cpp and registers itself here with MMFREE_COMMAND,
// so adding one touches no other file.
#include <CLI/CLI.hpp>
#include <vector>

namespace mmfree::cli {

using CommandSetup = void (*)(CLI::App& app);

std::vector<CommandSetup>& command_setups();

struct CommandRegistrar {
  explicit CommandRegistrar(CommandSetup setup) { command_setups().push_back(setup); }
};

#define MMFREE_COMMAND(setup_fn) static ::mmfree::cli::CommandRegistrar mmfree_registrar_##setup_fn(setup_fn)

}  // namespace mmfree::cli
