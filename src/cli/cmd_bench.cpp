// mmfree bench: prefill and decode speed of a model, as llama-bench reports them (pp512, tg128:
// mean and spread over repetitions), set against the memory-bandwidth roofline of this machine
// measured in the same run: decoding one token reads every weight once.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/default_model.h"
#include "cli/inputs.h"
#include "model/model.h"
#include "util/error.h"
#include "util/machine_stats.h"
#include "util/thread_pool.h"

namespace mmfree::cli {
namespace {

struct BenchOptions {
  std::string model;
  ComputeOptions compute;  // threads 0: physical cores
  int64_t n_prompt = 512, n_gen = 128;
  int reps = 5;
  int64_t bandwidth_mib = 1024;
  bool json = false;
};

struct Stat {
  double mean = 0, stddev = 0;
};

Stat stat_of(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.stddev = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Long enough for any prefill measurement; the token buffer is allocated up front.
constexpr int64_t kMaxBenchTokens = int64_t{1} << 20;

void run(const BenchOptions& o) {
  check(o.n_prompt <= kMaxBenchTokens, "-p/--n-prompt: " + std::to_string(o.n_prompt) + " tokens, at most " +
                                           std::to_string(kMaxBenchTokens) + " are measured");
  check(o.n_gen <= kMaxBenchTokens, "-n/--n-gen: " + std::to_string(o.n_gen) + " tokens, at most " +
                                        std::to_string(kMaxBenchTokens) + " are measured");
  const auto weights = open_weight_source(o.model);
  const StorageInfo storage = weights->storage();
  const Model model(weights, o.compute);
  const int threads = o.compute.threads > 0 ? o.compute.threads : physical_core_count();
  const ModelConfig& c = model.config();
  const int64_t V = c.vocab_size;

  // Token ids spread over the vocabulary (the speed does not depend on which ones).
  std::vector<int64_t> tokens(static_cast<size_t>(std::max<int64_t>({o.n_prompt, o.n_gen, 1})));
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int64_t>((i * 7919 + 13) % static_cast<size_t>(V));

  RecurrentState st(c, 1);
  Workspace ws(c, std::clamp<int64_t>(o.n_prompt, 1, kPrefillRows));  // as generate: prompts run in chunks
  std::vector<float> logits(static_cast<size_t>(V));
  model.forward(tokens.data(), 1, 1, st, ws, logits.data(), false);  // warm-up: touches every weight once

  std::vector<double> prefill, decode;
  for (int r = 0; r < o.reps && o.n_prompt > 0; ++r) {
    st.reset();
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(tokens.data(), 1, o.n_prompt, st, ws, logits.data(), false);
    prefill.push_back(static_cast<double>(o.n_prompt) / seconds_since(t0));
  }
  for (int r = 0; r < o.reps && o.n_gen > 0; ++r) {
    st.reset();
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < o.n_gen; ++i) model.forward(&tokens[static_cast<size_t>(i)], 1, 1, st, ws, logits.data(), false);
    decode.push_back(static_cast<double>(o.n_gen) / seconds_since(t0));
  }
  // Taken before the bandwidth probe allocates its buffer, so it is the model's alone.
  const int64_t rss = peak_rss_bytes();
  const double bandwidth = measure_read_bandwidth_gbs(threads, static_cast<size_t>(o.bandwidth_mib) << 20, 5);

  const Stat pp = stat_of(prefill), tg = stat_of(decode);
  const int64_t bytes_per_token = model.weight_bytes_per_token();
  const double achieved = static_cast<double>(bytes_per_token) * tg.mean / 1e9;
  const double roofline = bandwidth > 0 ? achieved / bandwidth : 0;
  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"format", storage.format},
                        {"file_bytes", storage.bytes},
                        {"ternary_types", storage.ternary_types},
                        {"threads", threads},
                        {"n_prompt", o.n_prompt},
                        {"n_gen", o.n_gen},
                        {"reps", o.reps},
                        {"prefill_tok_s", pp.mean},
                        {"prefill_tok_s_stddev", pp.stddev},
                        {"decode_tok_s", tg.mean},
                        {"decode_tok_s_stddev", tg.stddev},
                        {"weight_bytes_per_token", bytes_per_token},
                        {"achieved_gbs", achieved},
                        {"bandwidth_gbs", bandwidth},
                        {"roofline_fraction", roofline},
                        {"peak_rss_bytes", rss}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("model      %s (%s, ternary %s, %.1f MB; d=%lld, layers=%lld)\n", o.model.c_str(), storage.format.c_str(),
              storage.ternary_types.c_str(), static_cast<double>(storage.bytes) / 1e6, (long long)c.hidden_size,
              (long long)c.num_layers);
  std::printf("%-8s %16s   (%d repetitions)\n", "test", "tokens/s", o.reps);
  if (o.n_prompt > 0) std::printf("pp%-6lld %9.2f ± %-6.2f\n", (long long)o.n_prompt, pp.mean, pp.stddev);
  if (o.n_gen > 0) std::printf("tg%-6lld %9.2f ± %-6.2f\n", (long long)o.n_gen, tg.mean, tg.stddev);
  std::printf("weights    %.1f MB read per decoded token -> %.2f GB/s\n", static_cast<double>(bytes_per_token) / 1e6, achieved);
  std::printf("machine    %.2f GB/s streaming read (%d threads) -> decode at %.1f%% of the roofline\n", bandwidth,
              threads, 100 * roofline);
  std::printf("peak RSS   %.1f MB\n", static_cast<double>(rss) / 1e6);
}

void setup(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "Prefill and decode speed, bytes per token, memory-bandwidth roofline, peak RSS");
  add_model_option(cmd, o->model);
  add_threads_option(cmd, o->compute);
  cmd->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens for the prefill test (0: skip it)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("-n,--n-gen", o->n_gen, "Tokens decoded one at a time for the decode test (0: skip it)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("-r,--repetitions", o->reps, "Repetitions of each test")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--bandwidth-mib", o->bandwidth_mib, "Buffer for the read-bandwidth probe, MiB (well above the caches)")
      ->check(CLI::Range(int64_t{16}, int64_t{1} << 20))->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
