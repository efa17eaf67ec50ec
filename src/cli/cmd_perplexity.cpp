// mmfree perplexity: mean next-token NLL, perplexity and bits per byte of a text; bits per byte
// compares models with different tokenizers.
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <numbers>

#include "cli/command.h"
#include "cli/default_model.h"
#include "cli/inputs.h"
#include "model/perplexity.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace mmfree::cli {
namespace {

struct PerplexityOptions {
  std::string model, tokenizer, file;
  int64_t ctx = 512;
  bool reset_state = false, json = false;
  DeviceOptions device;
};

void run(const PerplexityOptions& o) {
  const auto model = Model::load(o.model, o.device);
  const auto tok = load_tokenizer(o.tokenizer.empty() ? o.model : o.tokenizer);
  check(tok->vocab_size() <= model->config().vocab_size,
        "the tokenizer " + tok->name() + " has " + std::to_string(tok->vocab_size()) +
            " tokens, more than the model's vocabulary of " + std::to_string(model->config().vocab_size));
  const std::string text = read_text_file(o.file);
  EncodeOptions eo;
  eo.add_eos = false;  // BOS (when the tokenizer adds it) is context; every text token is predicted
  const auto ids32 = tok->encode(text, eo);
  const std::vector<int64_t> ids(ids32.begin(), ids32.end());
  check(ids.size() >= 2, o.file + ": too short to score (it makes fewer than 2 tokens)");
  const SequenceNll r = sequence_nll(*model, ids, o.ctx, !o.reset_state);
  const double mean = r.nll / static_cast<double>(r.tokens);
  const double bpb = r.nll / std::numbers::ln2 / static_cast<double>(text.size());
  if (o.json) {
    const nlohmann::json j = {{"tokens", r.tokens}, {"bytes", text.size()}, {"nll", mean}, {"ppl", std::exp(mean)},
                              {"bits_per_byte", bpb}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("tokens         %lld predicted (%s state across windows of %lld)\n", static_cast<long long>(r.tokens),
              o.reset_state ? "reset" : "carried", static_cast<long long>(o.ctx));
  std::printf("bytes          %zu\n", text.size());
  std::printf("nll            %.4f nats/token\n", mean);
  std::printf("perplexity     %.3f\n", std::exp(mean));
  std::printf("bits per byte  %.4f\n", bpb);
}

void setup(CLI::App& app) {
  auto o = std::make_shared<PerplexityOptions>();
  auto* cmd = app.add_subcommand("perplexity", "Mean token NLL, perplexity and bits per byte of a text file");
  add_model_option(cmd, o->model);
  cmd->add_option("--tokenizer", o->tokenizer, "Tokenizer file or directory (default: the model directory)");
  cmd->add_option("--file", o->file, "UTF-8 text file ('-' for stdin)")->required();
  cmd->add_option("--ctx", o->ctx, "Tokens per forward window")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_flag("--reset-state", o->reset_state,
                "Start every window from a zero state (default: carry the recurrent state, i.e. the whole text in one pass)");
  cmd->add_flag("--json", o->json, "Print {\"tokens\",\"bytes\",\"nll\",\"ppl\",\"bits_per_byte\"}");
  add_device_options(cmd, o->device);
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
