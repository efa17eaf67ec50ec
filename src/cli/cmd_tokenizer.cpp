// mmfree tokenizer train: a SentencePiece BPE tokenizer with byte fallback for a new corpus.
#include "cli/command.h"
#include "tokenizer/train_tokenizer.h"

namespace mmfree::cli {
namespace {

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
  train->callback([o] { train_tokenizer(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
