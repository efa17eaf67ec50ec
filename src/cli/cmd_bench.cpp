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
  DeviceOptions device;  // threads 0: physical cores
  int64_t n_prompt = 512, n_gen = 128, batch = 1;
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
  const Model model(weights, make_backend(o.device));
  const int threads = o.device.threads > 0 ? o.device.threads : physical_core_count();
  const ModelConfig& c = model.config();
  const int64_t V = c.vocab_size;

  // Token ids spread over the vocabulary (the speed does not depend on which ones).
  std::vector<int64_t> tokens(static_cast<size_t>(std::max<int64_t>({o.n_prompt, o.n_gen * o.batch, 1})));
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int64_t>((i * 7919 + 13) % static_cast<size_t>(V));

  StatePool st(model, o.batch);
  std::vector<float> logits(static_cast<size_t>(V * o.batch));
  std::vector<double> prefill, decode;
  int64_t decode_peak = -1;
  {
    // Decoding first, on a workspace of one row per sequence, so that the device memory it needs
    // is measured apart from the prefill's larger workspace.
    Workspace ws(model, o.batch);
    model.forward(tokens.data(), o.batch, 1, st, ws, logits.data(), false);  // warm-up: every weight touched, graphs recorded
    for (int r = 0; r < o.reps && o.n_gen > 0; ++r) {
      st.reset_all();
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < o.n_gen; ++i)
        model.forward(&tokens[static_cast<size_t>(i * o.batch)], o.batch, 1, st, ws, logits.data(), false);
      decode.push_back(static_cast<double>(o.n_gen * o.batch) / seconds_since(t0));  // all sequences' tokens
    }
    decode_peak = model.backend().peak_device_bytes();
  }
  if (o.n_prompt > 0) {
    // As generate: prompts run in chunks of the backend's prefill rows.
    Workspace ws(model, std::clamp<int64_t>(o.n_prompt, 1, model.backend().prefill_rows()));
    model.forward(tokens.data(), 1, 1, st, ws, logits.data(), false);
    for (int r = 0; r < o.reps; ++r) {
      st.reset_all();
      const auto t0 = std::chrono::steady_clock::now();
      model.forward(tokens.data(), 1, o.n_prompt, st, ws, logits.data(), false);
      prefill.push_back(static_cast<double>(o.n_prompt) / seconds_since(t0));
    }
  }
  // Taken before the bandwidth probe allocates its buffer, so it is the model's alone.
  const int64_t rss = peak_rss_bytes();
  const double bandwidth = model.backend().read_bandwidth_gbs(o.bandwidth_mib << 20);

  const Stat pp = stat_of(prefill), tg = stat_of(decode);
  const int64_t bytes_per_token = model.weight_bytes_per_token();
  // A decode step reads the weights once for all the batch's sequences.
  const double achieved = static_cast<double>(bytes_per_token) * tg.mean / static_cast<double>(o.batch) / 1e9;
  const double roofline = bandwidth > 0 ? achieved / bandwidth : 0;
  // Weights that fit in the cache are read from it once warm: memory bandwidth does not bound
  // decode then, and a share of it would read as a slow kernel.
  const int64_t cache = last_level_cache_bytes();
  const bool in_cache = model.backend().host_memory() && bytes_per_token <= cache;  // a CPU's cache
  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"format", storage.format},
                        {"file_bytes", storage.bytes},
                        {"ternary_types", storage.ternary_types},
                        {"threads", threads},
                        {"n_prompt", o.n_prompt},
                        {"n_gen", o.n_gen},
                        {"batch", o.batch},
                        {"device", model.backend().name()},
                        {"reps", o.reps},
                        {"prefill_tok_s", pp.mean},
                        {"prefill_tok_s_stddev", pp.stddev},
                        {"decode_tok_s", tg.mean},
                        {"decode_tok_s_stddev", tg.stddev},
                        {"weight_bytes_per_token", bytes_per_token},
                        {"achieved_gbs", achieved},
                        {"bandwidth_gbs", bandwidth},
                        {"last_level_cache_bytes", cache},
                        {"weights_fit_in_cache", in_cache},
                        {"roofline_fraction", in_cache ? nlohmann::json() : nlohmann::json(roofline)},
                        {"peak_rss_bytes", rss},
                        {"peak_device_bytes_decode", decode_peak},
                        {"peak_device_bytes", model.backend().peak_device_bytes()}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("model      %s (%s, ternary %s, %.1f MB; d=%lld, layers=%lld)\n", o.model.c_str(), storage.format.c_str(),
              storage.ternary_types.c_str(), static_cast<double>(storage.bytes) / 1e6, (long long)c.hidden_size,
              (long long)c.num_layers);
  std::printf("%-8s %16s   (%d repetitions)\n", "test", "tokens/s", o.reps);
  if (o.n_prompt > 0) std::printf("pp%-6lld %9.2f ± %-6.2f\n", (long long)o.n_prompt, pp.mean, pp.stddev);
  if (o.n_gen > 0)
    std::printf("tg%-6lld %9.2f ± %-6.2f%s\n", (long long)o.n_gen, tg.mean, tg.stddev,
                o.batch > 1 ? ("   (" + std::to_string(o.batch) + " sequences decoded together: all their tokens)").c_str() : "");
  std::printf("weights    %.1f MB read per decoded token -> %.2f GB/s\n", static_cast<double>(bytes_per_token) / 1e6, achieved);
  if (in_cache)
    std::printf("machine    %.2f GB/s streaming read (%s); the weights fit in the %.1f MB last-level cache, "
                "so decode reads them from cache and the memory roofline does not apply\n",
                bandwidth, model.backend().description().c_str(), static_cast<double>(cache) / 1e6);
  else
    std::printf("machine    %.2f GB/s streaming read (%s) -> decode at %.1f%% of the roofline\n", bandwidth,
                model.backend().description().c_str(), 100 * roofline);
  std::printf("peak RSS   %.1f MB\n", static_cast<double>(rss) / 1e6);
  if (decode_peak >= 0)
    std::printf("device     %.1f MiB peak decoding, %.1f MiB with the prefill (%s)\n",
                static_cast<double>(decode_peak) / (1 << 20),
                static_cast<double>(model.backend().peak_device_bytes()) / (1 << 20), model.backend().description().c_str());
}

void setup(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "Prefill and decode speed, bytes per token, memory-bandwidth roofline, peak RSS");
  add_model_option(cmd, o->model);
  add_device_options(cmd, o->device);
  cmd->add_option("-b,--batch", o->batch, "Sequences decoded together in the decode test (aggregate tokens/s)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))->capture_default_str();
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
