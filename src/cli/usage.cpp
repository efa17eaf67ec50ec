#include "cli/usage.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "util/spelling.h"

namespace mmfree::cli {
namespace {

std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  return names;
}

CLI::App* find_subcommand(CLI::App& app, const std::string& name) {
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (sub->check_name(name)) return sub;
  return nullptr;
}

// The command the words select ("tokenizer train" -> its App) and its path for messages.
struct Target {
  CLI::App* app;
  std::string path;  // "mmfree tokenizer train"
  int first_arg;     // argv index after the command words
  std::string command() const { return path.size() > 7 ? path.substr(7) : ""; }  // "tokenizer train"
};

Target target_of(CLI::App& app, int argc, const char* const* argv) {
  Target t{&app, "mmfree", 1};
  while (t.first_arg < argc) {
    CLI::App* sub = find_subcommand(*t.app, argv[t.first_arg]);
    if (sub == nullptr) break;
    t.app = sub;
    t.path += " " + sub->get_name();
    ++t.first_arg;
  }
  return t;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string m = closest_match(word, candidates);
  return m.empty() ? std::string() : " (did you mean " + m + "?)";
}

bool looks_like_number(const std::string& s) {
  size_t used = 0;
  try {
    std::stod(s, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == s.size();
}

std::vector<std::string> flag_names(CLI::App& cmd) {
  std::vector<std::string> names;
  for (const auto* opt : cmd.get_options()) {
    for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
    for (const auto& s : opt->get_snames()) names.push_back("-" + s);
  }
  return names;
}

// The first word that looks like a flag and is none of the command's, skipping the values of its
// options ("--stop -x"); "" when there is none.
std::string first_unknown_flag(CLI::App& cmd, int first_arg, int argc, const char* const* argv) {
  for (int i = first_arg; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-' || looks_like_number(arg)) continue;
    const size_t eq = arg.find('=');
    CLI::Option* opt = cmd.get_option_no_throw(arg.substr(0, eq));
    if (opt == nullptr) return arg.substr(0, eq);
    if (eq == std::string::npos && opt->get_type_size_min() > 0) ++i;  // its value
  }
  return "";
}

// CLI11 words its sign checks as ranges up to DBL_MAX ("--n-predict: Value -3 not in range 0.000000 to
// 17976931348623157..."): say what the flag wants instead.
std::string plain_sign_check(CLI::App& cmd, const std::string& what) {
  const size_t colon = what.find(": Value "), range = what.find(" not in range 0.000000 to 17976931348623157");
  if (colon == std::string::npos || range == std::string::npos || range < colon) return what;
  CLI::Option* opt = cmd.get_option_no_throw(what.substr(0, colon));
  if (opt == nullptr) return what;
  bool zero_allowed = true;  // PositiveNumber and NonNegativeNumber print alike: ask them about 0
  for (int i = 0;; ++i) {
    try {
      std::string zero = "0";
      zero_allowed &= (*opt->get_validator(i))(zero).empty();
    } catch (const CLI::OptionNotFound&) {
      break;
    }
  }
  return what.substr(0, colon) + ": expected a number " + (zero_allowed ? ">= 0" : "> 0") + ", got " +
         what.substr(colon + 8, range - colon - 8);
}

void print_error(const std::string& message) { std::fprintf(stderr, "mmfree: error: %s\n", message.c_str()); }

}  // namespace

bool wants_progress(int argc, const char* const* argv) {
  if (!::isatty(STDERR_FILENO)) return false;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--json") return false;
  return true;
}

void print_usage(CLI::App& app) {
  std::fprintf(stderr, "usage: mmfree COMMAND [FLAGS]   (mmfree COMMAND --help: its flags; mmfree --help-all: all)\n\n");
  for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    std::fprintf(stderr, "  %-13s %s\n", sub->get_name().c_str(), sub->get_description().c_str());
  std::fprintf(stderr, "\nWith no --model, commands use models/default.gguf: try  mmfree generate --prompt \"Once upon\"\n");
}

bool reject_unknown_command(CLI::App& app, int argc, const char* const* argv) {
  if (argc < 2 || argv[1][0] == '-' || find_subcommand(app, argv[1]) != nullptr) return false;
  print_error("unknown command '" + std::string(argv[1]) + "'" + did_you_mean(argv[1], subcommand_names(app)) +
              "; mmfree --help lists them");
  return true;
}

void report_parse_error(CLI::App& app, int argc, const char* const* argv, const CLI::ParseError& e) {
  const Target t = target_of(app, argc, argv);
  const std::string see = "; see " + t.path + " --help";
  if (t.app == &app && t.first_arg == argc) {
    print_usage(app);
    return;
  }
  // A command that only groups others ("tokenizer"): a word that is none of its commands, or none.
  const auto commands = subcommand_names(*t.app);
  if (!commands.empty() && t.app != &app) {
    if (t.first_arg < argc && argv[t.first_arg][0] != '-') {
      print_error("unknown command '" + t.command() + " " + argv[t.first_arg] + "'" +
                  did_you_mean(argv[t.first_arg], commands) + see);
      return;
    }
    if (t.first_arg == argc) {
      std::string names;
      for (const auto& n : commands) names += (names.empty() ? "" : ", ") + n;
      print_error(t.command() + " needs a command: " + names + see);
      return;
    }
  }
  // An unknown flag is named first, whatever CLI11 tripped on (a required flag missing, say): the
  // misspelling is the cause.
  if (const std::string flag = first_unknown_flag(*t.app, t.first_arg, argc, argv); !flag.empty()) {
    const std::string word = t.command().empty() ? "" : " for " + t.command();
    print_error("unknown flag " + flag + word + did_you_mean(flag, flag_names(*t.app)) + see);
    return;
  }
  std::string what = plain_sign_check(*t.app, e.what());
  if (!t.command().empty()) what = t.command() + ": " + what;
  print_error(what + see);
}

}  // namespace mmfree::cli
