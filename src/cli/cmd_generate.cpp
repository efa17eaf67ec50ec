// mmfree generate: decode tokens through the recurrent state (no KV cache: d floats per layer).
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "generate/sampler.h"
#include "model/model.h"
#include "util/error.h"

namespace mmfree::cli {
namespace {

struct GenerateOptions {
  std::string model, prompt_ids;
  ComputeOptions compute;
  int64_t n = 128;
  SamplerOptions sampler;
  bool json = false, ignore_eos = false;
};

std::vector<int64_t> parse_ids(const std::string& s, int64_t vocab) {
  std::vector<int64_t> ids;
  std::istringstream in(s);
  std::string tok;
  while (in >> tok) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(tok, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(used == tok.size(), "--prompt-ids: '" + tok + "' is not a token id");
    check(v >= 0 && v < vocab, "--prompt-ids: id " + tok + " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    ids.push_back(v);
  }
  return ids;
}

void run(const GenerateOptions& o) {
  using clock = std::chrono::steady_clock;
  auto model = Model::load(o.model, o.compute);
  const ModelConfig& c = model->config();
  std::vector<int64_t> prompt = parse_ids(o.prompt_ids, c.vocab_size);
  if (prompt.empty()) prompt.push_back(c.bos_token_id);  // an empty prompt generates from BOS alone
  const int64_t P = static_cast<int64_t>(prompt.size()), V = c.vocab_size;

  RecurrentState st(c, 1);
  Workspace ws(c, P);
  std::vector<float> logits(static_cast<size_t>(V));
  Sampler sampler(o.sampler, V);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(o.n));

  const auto t0 = clock::now();
  model->forward(prompt.data(), 1, P, st, ws, logits.data(), false);
  const auto t1 = clock::now();
  for (int64_t i = 0; i < o.n; ++i) {
    int64_t next = sampler.sample(logits.data());
    out.push_back(next);
    if (!o.json) {
      std::printf("%s%lld", i ? " " : "", static_cast<long long>(next));
      std::fflush(stdout);
    }
    if (next == c.eos_token_id && !o.ignore_eos) break;
    if (i + 1 < o.n) model->forward(&next, 1, 1, st, ws, logits.data(), false);
  }
  const auto t2 = clock::now();
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  const double prefill_tps = P / std::max(prefill_s, 1e-9);
  const double decode_tps = static_cast<double>(out.size()) / std::max(decode_s, 1e-9);
  if (o.json) {
    nlohmann::json j = {{"ids", out},
                        {"prompt_tokens", P},
                        {"generated_tokens", out.size()},
                        {"prefill_tok_s", prefill_tps},
                        {"decode_tok_s", decode_tps}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("\n");
    std::fprintf(stderr, "prompt %lld tokens, generated %zu tokens | prefill %.1f tok/s | decode %.1f tok/s\n",
                 static_cast<long long>(P), out.size(), prefill_tps, decode_tps);
  }
}

void setup(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  auto* cmd = app.add_subcommand("generate", "Generate tokens from a prompt");
  cmd->add_option("--model", o->model, "Model directory (Hugging Face layout)")->required();
  cmd->add_option("--prompt-ids", o->prompt_ids, "Prompt as space-separated token ids (empty: start from BOS)");
  cmd->add_option("-n,--n-predict", o->n, "Maximum number of tokens to generate")->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature", o->sampler.temperature, "Sampling temperature; 0 is greedy")->capture_default_str();
  cmd->add_option("--seed", o->sampler.seed, "Random seed: the same seed gives the same output")->capture_default_str();
  cmd->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past the end-of-sequence token");
  cmd->add_flag("--json", o->json, "Print one JSON object {\"ids\": [...], ...} instead of streaming");
  cmd->add_option("--threads", o->compute.threads, "Threads (default: physical cores)")->check(CLI::Range(1, 1024));
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
