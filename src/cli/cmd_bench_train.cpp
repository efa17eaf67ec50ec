// mmfree bench-train: training throughput of a random model (a whole step: forward, backward,
// gradient clipping and AdamW, as ref_bench.py times the original's), as tokens/s and as a share of
// the machine's measured fp32 peak, with FLOPs = 6 x parameters x tokens.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/command.h"
#include "cli/inputs.h"
#include "kernels/blas.h"
#include "train/adamw.h"
#include "train/fp32_peak.h"
#include "train/trainable_model.h"
#include "util/error.h"
#include "util/machine_stats.h"

namespace mmfree::cli {
namespace {

struct BenchTrainOptions {
  int64_t hidden = 512, layers = 8, intermediate = 0, vocab = 32000, seq = 256, batch = 4;
  int steps = 5, warmup = 1, threads = 2;
  std::string device = "cpu", backward_gemm;
  std::string recompute = "none";
  bool json = false, skip_peak = false;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void run(const BenchTrainOptions& o) {
  using clock = std::chrono::steady_clock;
  PeakMeasurement fma, sgemm;  // first, while no training threads are about
  if (!o.skip_peak) {
    fma = fma_peak(o.threads, 5);
    sgemm = sgemm_peak(2048, 5, o.threads);
  }
  ModelConfig c;
  c.hidden_size = o.hidden;
  c.num_layers = o.layers;
  c.vocab_size = o.vocab;
  c.intermediate_size = o.intermediate > 0 ? o.intermediate : ModelConfig::default_intermediate(o.hidden);
  TrainableModel m = TrainableModel::random_init(c, 1, {o.device, o.threads, "", o.backward_gemm});
  m.set_recompute(parse_recompute(o.recompute));
  std::mt19937_64 rng(2);
  std::vector<int32_t> tokens(static_cast<size_t>(o.batch * o.seq));
  for (auto& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(o.vocab));

  AdamW opt(m.arena(), AdamWOptions{});
  std::vector<double> wall_s, cpu_s;  // per timed step; CPU time over the threads, per thread
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    const auto t0 = clock::now();
    const double c0 = process_cpu_seconds();
    m.zero_grad();
    m.forward_backward(tokens.data(), o.batch, o.seq);
    opt.step(1e-4, clip_coefficient(global_grad_norm(m.arena()), 1.0));
    float probe = 0;  // the step's work done (a device backend runs it asynchronously)
    m.backend().read(&probe, m.arena().values(), sizeof probe);
    if (s < o.warmup) continue;
    wall_s.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    cpu_s.push_back((process_cpu_seconds() - c0) / o.threads);
  }
  const double tokens_per_step = static_cast<double>(o.batch * o.seq);
  const double tokens_per_s = tokens_per_step / median(wall_s), tokens_per_cpu_s = tokens_per_step / median(cpu_s);
  const double params = static_cast<double>(c.parameter_count());
  // The embedding lookup does no arithmetic: the products do 6 x (parameters - V d) per token.
  const double product_params = params - static_cast<double>(c.vocab_size * c.hidden_size);
  const double gflops = 6.0 * params * tokens_per_s / 1e9, gflops_cpu = 6.0 * params * tokens_per_cpu_s / 1e9;

  if (o.json) {
    nlohmann::json j = {{"hidden", o.hidden}, {"layers", o.layers}, {"intermediate", c.intermediate_size},
                        {"vocab", o.vocab}, {"seq", o.seq}, {"batch", o.batch}, {"threads", o.threads},
                        {"parameters", c.parameter_count()}, {"step_s", median(wall_s)}, {"step_cpu_s", median(cpu_s)},
                        {"tokens_per_s", tokens_per_s}, {"tokens_per_cpu_s", tokens_per_cpu_s}, {"gflops", gflops},
                        {"gflops_cpu_time", gflops_cpu}, {"blas_core", blas::core_name()},
                        {"device", m.backend().name()}, {"recompute", o.recompute}, {"backward_gemm", o.backward_gemm}, {"peak_rss_bytes", peak_rss_bytes()},
                        {"peak_device_bytes", m.backend().peak_device_bytes()}};
    if (!o.skip_peak) {
      j["fma_peak_gflops"] = fma.gflops;
      j["fma_peak_gflops_cpu_time"] = fma.gflops_cpu_time;
      j["sgemm_gflops"] = sgemm.gflops;
      j["sgemm_gflops_cpu_time"] = sgemm.gflops_cpu_time;
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  const std::string where = m.backend().host_memory()
                                ? m.backend().description() + ", OpenBLAS " + blas::core_name() + " kernels"
                                : m.backend().description();
  std::printf("model: d=%lld L=%lld I=%lld V=%lld, %.1fM parameters (%.1fM outside the embeddings); batch %lld x %lld "
              "tokens; %s\n",
              static_cast<long long>(o.hidden), static_cast<long long>(o.layers),
              static_cast<long long>(c.intermediate_size), static_cast<long long>(o.vocab), params / 1e6,
              product_params / 1e6, static_cast<long long>(o.batch), static_cast<long long>(o.seq), where.c_str());
  std::printf("step (forward, backward, clipping, AdamW), median of %d: %.3f s wall, %.3f s CPU per thread\n", o.steps, median(wall_s),
              median(cpu_s));
  std::printf("by the wall clock: %.1f tokens/s, %.1f GFLOP/s (6 x parameters x tokens)\n", tokens_per_s, gflops);
  std::printf("by CPU time:       %.1f tokens/s, %.1f GFLOP/s\n", tokens_per_cpu_s, gflops_cpu);
  const int64_t device_peak = m.backend().peak_device_bytes();
  if (device_peak >= 0)
    std::printf("peak device memory %.1f MiB\n", static_cast<double>(device_peak) / (1 << 20));
  else
    std::printf("peak resident memory %.1f MiB\n", static_cast<double>(peak_rss_bytes()) / (1 << 20));
  if (o.skip_peak) return;
  auto share = [&](const char* what, const PeakMeasurement& p) {
    std::printf("%s %.1f GFLOP/s wall, %.1f by CPU time (%s): training reaches %.1f%% (wall) / %.1f%% (CPU time); "
                "the products alone %.1f%% / %.1f%%\n",
                what, p.gflops, p.gflops_cpu_time, p.how.c_str(), 100 * gflops / p.gflops, 100 * gflops_cpu / p.gflops_cpu_time,
                100 * gflops * product_params / params / p.gflops,
                100 * gflops_cpu * product_params / params / p.gflops_cpu_time);
  };
  share("fp32 peak:", fma);
  share("sgemm:    ", sgemm);
}

void setup(CLI::App& app) {
  auto o = std::make_shared<BenchTrainOptions>();
  auto* cmd = app.add_subcommand("bench-train",
                                 "Measure training throughput (forward + backward, tokens/s) of a random model and its "
                                 "share of the machine's measured fp32 peak");
  cmd->add_option("--hidden", o->hidden, "Hidden size d")->check(CLI::Range(1, 1 << 16))->capture_default_str();
  cmd->add_option("--layers", o->layers, "Layers L")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--intermediate", o->intermediate, "GLU size I (0: the default for d)")->check(CLI::Range(0, 1 << 18));
  cmd->add_option("--vocab", o->vocab, "Vocabulary size")->check(CLI::Range(2, 1 << 20))->capture_default_str();
  cmd->add_option("--seq", o->seq, "Tokens per sequence T")->check(CLI::Range(2, 1 << 20))->capture_default_str();
  cmd->add_option("--batch", o->batch, "Sequences per step B")->check(CLI::Range(1, 1 << 16))->capture_default_str();
  cmd->add_option("--steps", o->steps, "Timed steps (the median is reported)")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed steps first")->check(CLI::Range(0, 1000))->capture_default_str();
  cmd->add_option("--device", o->device, "Where to train: cpu (default), ref, cuda, cuda:N")->capture_default_str();
  add_backward_gemm_option(cmd, o->backward_gemm);
  cmd->add_option("--threads", o->threads, "Threads of the cpu device (products and element-wise work)")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_flag("--skip-peak", o->skip_peak, "Do not measure the fp32 peak");
  cmd->add_option("--recompute", o->recompute, "What the backward forms again: none, inputs, branch or block (mmfree train --help)")
      ->check(CLI::IsMember(recompute_names()))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "One JSON object instead of text");
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
