// libFuzzer target: the command line. The input is split at spaces and newlines into arguments
// after "mmfree"; every command's flags are parsed, converted and validated as the binary does,
// then a parse-complete hook stops before the command would run (it would read models and write
// files). The commands' own callbacks stay in place: they own the options the parser writes to.
// Token id lists (--prompt-ids) have their own parser, fed the whole input too.
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/inputs.h"
#include "fuzz_input.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mmfree;
  const std::string text(fuzz::as_text(data, size));
  try {
    (void)cli::parse_ids(text, 32000, "--prompt-ids");
  } catch (const Error&) {
  }
  std::vector<std::string> args = {"mmfree"};
  std::string cur;
  for (char c : text) {
    if (c == ' ' || c == '\n') {
      if (!cur.empty()) args.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) args.push_back(cur);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CLI::App app{"mmfree", "mmfree"};
  app.require_subcommand(1);
  for (auto setup : cli::command_setups()) setup(app);
  struct Parsed {};
  for (auto* sub : app.get_subcommands({})) {
    sub->parse_complete_callback([] { throw Parsed{}; });
    for (auto* nested : sub->get_subcommands({})) nested->parse_complete_callback([] { throw Parsed{}; });
  }
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const Parsed&) {
  } catch (const CLI::Error&) {
  } catch (const Error&) {
  }
  return 0;
}
