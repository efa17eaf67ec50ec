// mmfree: one binary, one subcommand per job. Errors print one line and exit non-zero:
// 2 for a usage error (bad flag, missing argument), 1 for anything else (bad file, bad input).
#include <cstdio>
#include <exception>

#include "cli/command.h"
#include "cli/usage.h"
#include "util/progress.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"mmfree: train and run MatMul-free language models (ternary BitLinear + MLGRU)", "mmfree"};
  app.require_subcommand(1);
  app.fallthrough(false);
  app.set_help_all_flag("--help-all", "Show help for every command");
  for (auto setup : mmfree::cli::command_setups()) setup(app);
  if (mmfree::cli::reject_unknown_command(app, argc, argv)) return mmfree::cli::kUsageExit;
  mmfree::set_progress_enabled(mmfree::cli::wants_progress(argc, argv));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    mmfree::cli::report_parse_error(app, argc, argv, e);
    return mmfree::cli::kUsageExit;
  } catch (const mmfree::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "mmfree: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "mmfree: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmfree: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
