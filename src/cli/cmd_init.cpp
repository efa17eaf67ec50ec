// mmfree init: a random-weight model of one of the paper's sizes, for benchmarks and tests.
#include <chrono>
#include <memory>

#include "cli/command.h"
#include "cli/model_file_flags.h"
#include "model/random_model.h"

namespace mmfree::cli {
namespace {

struct InitOptions {
  std::string preset, out;
  uint64_t seed = 0;
  ModelFileFlags file;
};

void run(const InitOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig c = preset_config(o.preset);
  write_random_model(o.out, c, o.seed,
                     model_file_options(o.file, GgmlType::BF16,
                                        "hgrn_bit " + o.preset + " random (seed " + std::to_string(o.seed) + ")"));
  print_written_model(o.out, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void setup(CLI::App& app) {
  auto o = std::make_shared<InitOptions>();
  auto* cmd = app.add_subcommand("init", "Write a random-weight model of the paper's sizes as a .gguf file");
  cmd->add_option("--preset", o->preset, "Model size: 370M (d 1024, 24 layers), 1.3B (2048, 24) or 2.7B (2560, 32)")
      ->required()
      ->check(CLI::IsMember(preset_names()));
  cmd->add_option("--seed", o->seed, "Random seed: the same seed writes the same file")->capture_default_str();
  cmd->add_option("--out", o->out, "The .gguf file to write (atomically)")->required();
  add_model_file_flags(cmd, o->file, "bf16, as the released checkpoints");
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
