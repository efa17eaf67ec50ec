// mmfree detokenize: token ids -> text, printed exactly (no newline added).
#include <cstdio>

#include "cli/command.h"
#include "cli/inputs.h"

namespace mmfree::cli {
namespace {

struct DetokenizeOptions {
  TokenizerSource source;
  std::string ids;
};

void run(const DetokenizeOptions& o) {
  const auto tok = o.source.open();
  const auto ids64 = parse_ids(o.ids, tok->vocab_size(), "--ids");
  const std::string text = tok->decode(std::vector<int32_t>(ids64.begin(), ids64.end()));
  std::fwrite(text.data(), 1, text.size(), stdout);
}

void setup(CLI::App& app) {
  auto o = std::make_shared<DetokenizeOptions>();
  auto* cmd = app.add_subcommand("detokenize", "Turn token ids back into text (printed as is, no newline added)");
  o->source.add_options(cmd);
  cmd->add_option("--ids", o->ids, "Token ids: \"1 2 3\", \"1,2,3\" or a JSON array")->required();
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
