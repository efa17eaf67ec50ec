// mmfree tokenizer train: a SentencePiece BPE tokenizer with byte fallback for a new corpus.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "cli/command.h"
#include "tokenizer/train_tokenizer.h"
#include "util/progress.h"

namespace mmfree::cli {
namespace {

void run(const TokenizerTrainOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::optional<Progress> progress;  // the library's own log (--verbose) takes the terminal instead
    if (!o.verbose) progress.emplace("training a " + std::to_string(o.vocab_size) + "-token " + o.model_type + " tokenizer");
    train_tokenizer(o);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string dir = (std::filesystem::path(o.out_dir) / "").string();
  std::printf("wrote %stokenizer.model (%lld tokens, %s, %s) and %stokenizer_config.json in %.1f s\n", dir.c_str(),
              static_cast<long long>(o.vocab_size), o.model_type.c_str(),
              format_bytes(static_cast<double>(std::filesystem::file_size(dir + "tokenizer.model"))).c_str(), dir.c_str(), s);
}

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer", "Tokenizer tools");
  cmd->require_subcommand(1);
  auto o = std::make_shared<TokenizerTrainOptions>();
  auto* train = cmd->add_subcommand(
      "train", "Train a SentencePiece tokenizer (byte fallback, lossless) on text files; writes DIR/tokenizer.model "
               "and DIR/tokenizer_config.json");
  train->add_option("--input", o->inputs, "Text files, one sentence or paragraph per line")->required();
  train->add_option("--vocab-size", o->vocab_size, "Number of tokens")->required()->check(CLI::PositiveNumber);
  train->add_option("--out", o->out_dir, "Directory to write the tokenizer to")->required();
  train->add_option("--model-type", o->model_type, "bpe or unigram")->capture_default_str();
  train->add_flag("--verbose", o->verbose, "Show the library's training log");
  train->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
