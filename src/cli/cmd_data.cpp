// mmfree data prepare: tokenize text files into train.bin / val.bin (docs/FORMATS.md, Token files).
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "tokenizer/tokenizer.h"
#include "train/data_prepare.h"
#include "util/error.h"

namespace mmfree::cli {
namespace {

struct PrepareCli {
  std::string tokenizer, out;
  std::vector<std::string> inputs;
  PrepareOptions opt;
};

void run(const PrepareCli& c) {
  const auto tok = load_tokenizer(c.tokenizer);
  const PrepareSummary s = prepare_dataset(*tok, c.tokenizer, c.inputs, c.out, c.opt);
  std::printf("%lld bytes of text -> %lld documents\n", static_cast<long long>(s.bytes),
              static_cast<long long>(s.train_documents + s.val_documents));
  std::printf("train: %lld documents, %lld tokens -> %s/train.bin\n", static_cast<long long>(s.train_documents),
              static_cast<long long>(s.train_tokens), c.out.c_str());
  std::printf("val:   %lld documents, %lld tokens -> %s/val.bin\n", static_cast<long long>(s.val_documents),
              static_cast<long long>(s.val_tokens), c.out.c_str());
}

void setup(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Prepare training data");
  data->require_subcommand(1);
  auto c = std::make_shared<PrepareCli>();
  auto* cmd = data->add_subcommand("prepare", "Tokenize text files into train.bin and val.bin, split by document");
  cmd->add_option("--tokenizer", c->tokenizer, "tokenizer.model, tokenizer.json, or a model directory holding one")
      ->required();
  cmd->add_option("--input", c->inputs, "Text files (UTF-8)")->required();
  cmd->add_option("--out", c->out, "Output directory")->required();
  cmd->add_option("--val-fraction", c->opt.val_fraction, "Share of the documents for validation")->capture_default_str();
  cmd->add_option("--seed", c->opt.seed, "Seed of the choice of validation documents")->capture_default_str();
  cmd->add_option("--document-bytes", c->opt.document_bytes,
                  "Files longer than this are cut into documents of about this size, at blank lines")
      ->capture_default_str();
  cmd->add_option("--threads", c->opt.threads, "Tokenizer threads (0: one per core; at most one per document and 1024; the output does not depend on it)")
      ->capture_default_str();
  cmd->callback([c] { run(*c); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
