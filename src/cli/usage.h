#pragma once
// What every command shares before it runs: usage errors in mmfree's own voice (one line "mmfree:
// error: ...", exit status 2, the closest command or flag suggested when the word given is a near
// miss), the short usage of `mmfree` alone, and whether progress lines are wanted.
#include <CLI/CLI.hpp>

namespace mmfree::cli {

inline constexpr int kUsageExit = 2;

// Progress lines on stderr: only for a person watching (stderr a terminal) and not under --json.
bool wants_progress(int argc, const char* const* argv);

// The short usage `mmfree` alone prints: the commands, one line each.
void print_usage(CLI::App& app);

// Checked before parsing: an unknown command word. Prints the error and returns true.
bool reject_unknown_command(CLI::App& app, int argc, const char* const* argv);

// Prints the message for a parse error CLI11 raised on this command line.
void report_parse_error(CLI::App& app, int argc, const char* const* argv, const CLI::ParseError& e);

}  // namespace mmfree::cli
