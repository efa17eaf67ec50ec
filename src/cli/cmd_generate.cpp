// mmfree generate: decode tokens through the recurrent state (no KV cache: d floats per layer),
// streaming the text as it comes.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/command.h"
#include "cli/default_model.h"
#include "cli/inputs.h"
#include "generate/generator.h"
#include "model/model.h"
#include "util/error.h"
#include "util/utf8.h"

namespace mmfree::cli {
namespace {

struct GenerateOptions {
  std::string model, tokenizer, prompt, file, prompt_ids;
  bool has_prompt = false, has_prompt_ids = false;
  DeviceOptions device;
  int64_t n = 128;
  SamplerOptions sampler;
  std::vector<std::string> stops;
  bool json = false, ignore_eos = false, parse_special = true;
};

// The model directory's tokenizer (or --tokenizer's); null when there is none and `needed_for` is "".
std::unique_ptr<Tokenizer> open_tokenizer(const GenerateOptions& o, const ModelConfig& c, const std::string& needed_for) {
  if (o.tokenizer.empty() && find_tokenizer_file(o.model).empty()) {
    check(needed_for.empty(), o.model + ": no tokenizer (tokenizer.json or tokenizer.model) beside the model, which " +
                                  needed_for + " needs: give --tokenizer PATH" +
                                  (o.has_prompt_ids ? "" : ", or the prompt as --prompt-ids"));
    return nullptr;
  }
  auto tok = load_tokenizer(o.tokenizer.empty() ? o.model : o.tokenizer);
  check(tok->vocab_size() <= c.vocab_size, tok->name() + " has " + std::to_string(tok->vocab_size()) +
                                               " tokens but the model " + o.model + " has a vocabulary of only " +
                                               std::to_string(c.vocab_size) + ": they do not belong together");
  return tok;
}

// The prompt as ids: --prompt-ids, or the text of --prompt, --file or stdin through the tokenizer.
std::vector<int64_t> prompt_ids(const GenerateOptions& o, const Tokenizer* tok, int64_t vocab) {
  if (o.has_prompt_ids) return parse_ids(o.prompt_ids, vocab, "--prompt-ids");
  const bool from_stdin = !o.has_prompt && o.file.empty();
  const std::string text = o.has_prompt ? o.prompt : read_text_file(from_stdin ? "-" : o.file);
  check_utf8(text, o.has_prompt ? "--prompt" : from_stdin ? "the prompt on stdin" : o.file);
  EncodeOptions eo;
  eo.add_eos = false;
  eo.parse_special = o.parse_special;
  const auto ids = tok->encode(text, eo);
  return {ids.begin(), ids.end()};
}

// More than anyone waits for, and the ids of --json stay a few GB at most.
constexpr int64_t kMaxGenerate = INT32_MAX;

void run(const GenerateOptions& o) {
  check(o.n <= kMaxGenerate, "-n/--n-predict: " + std::to_string(o.n) + " tokens, at most " +
                                 std::to_string(kMaxGenerate) + " are generated");
  auto model = Model::load(o.model, o.device);
  const ModelConfig& c = model->config();
  const int64_t V = c.vocab_size;
  // No prompt flag: read stdin when it is piped; at a terminal, start from BOS.
  const bool text_prompt = o.has_prompt || !o.file.empty() || (!o.has_prompt_ids && !isatty(STDIN_FILENO));
  const auto tok = open_tokenizer(o, c, text_prompt ? "a text prompt" : o.stops.empty() ? "" : "--stop");
  GenerateRequest req;
  req.prompt = text_prompt || o.has_prompt_ids ? prompt_ids(o, tok.get(), V) : std::vector<int64_t>{};
  if (req.prompt.empty()) req.prompt.push_back(tok && tok->bos_id() >= 0 ? tok->bos_id() : c.bos_token_id);
  req.max_tokens = o.n;
  req.sampler = o.sampler;
  req.stops = o.stops;
  req.ignore_eos = o.ignore_eos;
  const int64_t P = static_cast<int64_t>(req.prompt.size());

  std::string text;  // what was printed, for --json
  int64_t printed_ids = 0;
  GenerateSink sink;
  sink.text = [&](std::string_view s) {
    if (o.json) {
      text.append(s);
    } else {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    }
  };
  sink.token = [&](int64_t id) {
    if (o.json) return;
    std::printf("%s%lld", printed_ids++ ? " " : "", static_cast<long long>(id));
    std::fflush(stdout);
  };
  // A --prompt is shown before its continuation, so that the output reads as one text (a prompt from
  // a file or stdin is not repeated; --json keeps the two apart).
  if (o.has_prompt && !o.json) sink.text(o.prompt);
  const GenerateResult r = generate(*model, tok.get(), req, sink);
  const double prefill_tps = static_cast<double>(P) / std::max(r.prefill_s, 1e-9);
  const double decode_tps = static_cast<double>(r.ids.size()) / std::max(r.decode_s, 1e-9);
  if (o.json) {
    nlohmann::json j = {{"ids", r.ids},
                        {"prompt_tokens", P},
                        {"generated_tokens", r.ids.size()},
                        {"stop_reason", r.stop_reason},
                        {"prefill_tok_s", prefill_tps},
                        {"decode_tok_s", decode_tps},
                        {"seed", o.sampler.seed}};
    if (tok) j["text"] = text;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("\n");
    std::fflush(stdout);  // the text ends before the summary, also when both go to one file
    std::fprintf(stderr, "prompt %lld tokens, generated %zu tokens | prefill %.1f tok/s | decode %.1f tok/s | seed %llu\n",
                 static_cast<long long>(P), r.ids.size(), prefill_tps, decode_tps,
                 static_cast<unsigned long long>(o.sampler.seed));
  }
}

void setup(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  auto* cmd = app.add_subcommand(
      "generate", "Generate text from a prompt, streaming it to stdout (a --prompt is printed first, a prompt from --file or stdin "
      "is not); a summary goes to stderr");
  add_model_option(cmd, o->model);
  cmd->add_option("--tokenizer", o->tokenizer, "Tokenizer file or directory (default: the model directory's)");
  auto* prompt = cmd->add_option("--prompt,-p", o->prompt, "Prompt text (printed before its continuation; with --json, not)");
  auto* file = cmd->add_option("--file,-f", o->file, "File holding the prompt text (not printed)");
  auto* ids = cmd->add_option("--prompt-ids", o->prompt_ids,
                              "Prompt as token ids, \"1 2 3\" (empty: start from BOS). With no prompt flag, a "
                              "piped stdin is the prompt text");
  prompt->excludes(file)->excludes(ids);
  file->excludes(ids);
  cmd->add_option("-n,--n-predict", o->n, "Maximum number of tokens to generate")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--temperature", o->sampler.temperature, "Sampling temperature; 0 is greedy")->capture_default_str();
  cmd->add_option("--top-k", o->sampler.top_k, "Keep the k most likely tokens; 0 keeps all")->capture_default_str();
  cmd->add_option("--top-p", o->sampler.top_p, "Keep the most likely tokens up to this total probability; 1 keeps all")
      ->capture_default_str();
  cmd->add_option("--min-p", o->sampler.min_p, "Drop tokens below this fraction of the top one's probability; 0 is off")
      ->capture_default_str();
  cmd->add_option("--repeat-penalty", o->sampler.repeat_penalty, "Penalty on recent tokens' logits; 1 is off")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", o->sampler.repeat_last_n, "How many recent tokens the penalty covers")
      ->capture_default_str();
  auto* seed = cmd->add_option("--seed", o->sampler.seed,
                               "Random seed: the same seed gives the same output (default: a random one, printed in "
                               "the summary line and in --json)");
  cmd->add_option("--stop", o->stops, "Stop when the text holds this string (not printed); repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_parse_special_flag(cmd, o->parse_special);
  cmd->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past the end-of-sequence token");
  cmd->add_flag("--json", o->json, "Print one JSON object {\"text\": ..., \"ids\": [...], ...} instead of streaming");
  add_device_options(cmd, o->device);
  cmd->callback([o, prompt, ids, seed] {
    if (seed->count() == 0) o->sampler.seed = std::random_device{}();  // a fresh draw each run, unless --seed
    o->has_prompt = prompt->count() > 0;
    o->has_prompt_ids = ids->count() > 0;
    for (const auto& s : o->stops) check_utf8(s, "--stop");
    run(*o);
  });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
