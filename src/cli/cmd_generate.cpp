// mmfree generate: decode tokens through the recurrent state (no KV cache: d floats per layer),
// streaming the text as it comes.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/default_model.h"
#include "cli/inputs.h"
#include "generate/sampler.h"
#include "generate/stop_strings.h"
#include "model/model.h"
#include "tokenizer/text_stream.h"
#include "util/error.h"
#include "util/utf8.h"

namespace mmfree::cli {
namespace {

struct GenerateOptions {
  std::string model, tokenizer, prompt, file, prompt_ids;
  bool has_prompt = false, has_prompt_ids = false;
  ComputeOptions compute;
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
  using clock = std::chrono::steady_clock;
  check(o.n <= kMaxGenerate, "-n/--n-predict: " + std::to_string(o.n) + " tokens, at most " +
                                 std::to_string(kMaxGenerate) + " are generated");
  auto model = Model::load(o.model, o.compute);
  const ModelConfig& c = model->config();
  const int64_t V = c.vocab_size;
  // No prompt flag: read stdin when it is piped; at a terminal, start from BOS.
  const bool text_prompt = o.has_prompt || !o.file.empty() || (!o.has_prompt_ids && !isatty(STDIN_FILENO));
  const auto tok = open_tokenizer(o, c, text_prompt ? "a text prompt" : o.stops.empty() ? "" : "--stop");
  std::vector<int64_t> prompt = text_prompt || o.has_prompt_ids ? prompt_ids(o, tok.get(), V) : std::vector<int64_t>{};
  if (prompt.empty()) prompt.push_back(tok && tok->bos_id() >= 0 ? tok->bos_id() : c.bos_token_id);
  const int64_t P = static_cast<int64_t>(prompt.size());

  RecurrentState st(c, 1);
  Workspace ws(c, std::min(P, kPrefillRows));  // longer prompts run in chunks
  std::vector<float> logits(static_cast<size_t>(V));
  // No more tokens than the prompt and the generation can enter the penalty's window: a larger
  // --repeat-last-n is the same window, without its buffer.
  SamplerOptions so = o.sampler;
  so.repeat_last_n = std::min(so.repeat_last_n, P + o.n);
  Sampler sampler(so, V);
  for (int64_t id : prompt) sampler.accept(id);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(std::min<int64_t>(o.n, 4096)));
  // Text continues the prompt's, unless the prompt holds no text (BOS alone).
  const bool at_text_start = !tok || std::all_of(prompt.begin(), prompt.end(), [&](int64_t id) {
    return id >= tok->vocab_size() || tok->token_bytes(static_cast<int32_t>(id)).empty();
  });
  std::unique_ptr<TextStream> stream = tok ? std::make_unique<TextStream>(*tok, at_text_start) : nullptr;
  StopStrings stops(o.stops);
  std::string text;  // what was printed, for --json
  const auto emit = [&](std::string_view s) {
    if (o.json) {
      text.append(s);
    } else {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    }
  };

  // A --prompt is shown before its continuation, so that the output reads as one text (a prompt from
  // a file or stdin is not repeated; --json keeps the two apart).
  if (o.has_prompt && !o.json) emit(o.prompt);
  const auto t0 = clock::now();
  model->forward(prompt.data(), 1, P, st, ws, logits.data(), false);
  const auto t1 = clock::now();
  std::string stop_reason = "length";
  for (int64_t i = 0; i < o.n; ++i) {
    int64_t next = sampler.sample(logits.data());
    out.push_back(next);
    if (next == c.eos_token_id && !o.ignore_eos) {
      stop_reason = "eos";
      break;
    }
    if (stream) {
      if (next < tok->vocab_size()) emit(stops.push(stream->push(static_cast<int32_t>(next))));
      if (stops.stopped()) {
        stop_reason = "stop";
        break;
      }
    } else if (!o.json) {
      std::printf("%s%lld", i ? " " : "", static_cast<long long>(next));
      std::fflush(stdout);
    }
    if (i + 1 < o.n) model->forward(&next, 1, 1, st, ws, logits.data(), false);
  }
  const auto t2 = clock::now();
  if (stream && !stops.stopped()) {
    emit(stops.push(stream->finish()));
    emit(stops.finish());
  }
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  const double prefill_tps = static_cast<double>(P) / std::max(prefill_s, 1e-9);
  const double decode_tps = static_cast<double>(out.size()) / std::max(decode_s, 1e-9);
  if (o.json) {
    nlohmann::json j = {{"ids", out},
                        {"prompt_tokens", P},
                        {"generated_tokens", out.size()},
                        {"stop_reason", stop_reason},
                        {"prefill_tok_s", prefill_tps},
                        {"decode_tok_s", decode_tps}};
    if (tok) j["text"] = text;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("\n");
    std::fflush(stdout);  // the text ends before the summary, also when both go to one file
    std::fprintf(stderr, "prompt %lld tokens, generated %zu tokens | prefill %.1f tok/s | decode %.1f tok/s\n",
                 static_cast<long long>(P), out.size(), prefill_tps, decode_tps);
  }
}

void setup(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  auto* cmd = app.add_subcommand(
      "generate", "Generate text from a prompt, streaming it to stdout (without the prompt); a summary goes to stderr");
  add_model_option(cmd, o->model);
  cmd->add_option("--tokenizer", o->tokenizer, "Tokenizer file or directory (default: the model directory's)");
  auto* prompt = cmd->add_option("--prompt,-p", o->prompt, "Prompt text (printed, then its continuation)");
  auto* file = cmd->add_option("--file,-f", o->file, "File holding the prompt text");
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
  cmd->add_option("--seed", o->sampler.seed, "Random seed: the same seed gives the same output")->capture_default_str();
  cmd->add_option("--stop", o->stops, "Stop when the text holds this string (not printed); repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_parse_special_flag(cmd, o->parse_special);
  cmd->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past the end-of-sequence token");
  cmd->add_flag("--json", o->json, "Print one JSON object {\"text\": ..., \"ids\": [...], ...} instead of streaming");
  add_threads_option(cmd, o->compute);
  cmd->callback([o, prompt, ids] {
    o->has_prompt = prompt->count() > 0;
    o->has_prompt_ids = ids->count() > 0;
    for (const auto& s : o->stops) check_utf8(s, "--stop");
    run(*o);
  });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
