// mmfree info: what a model is: its config, its parameters by kind, and the memory it takes.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "format/hf_checkpoint.h"
#include "model/model.h"
#include "model/tensor_names.h"

namespace mmfree::cli {
namespace {

struct InfoOptions {
  std::string model;
  bool json = false;
};

struct ParamCounts {
  int64_t embeddings = 0, ternary = 0, norms = 0, lower_bounds = 0;
  int64_t total() const { return embeddings + ternary + norms + lower_bounds; }
};

ParamCounts count_params(const ModelConfig& c) {
  ParamCounts p;
  for (const auto& t : expected_tensors(c)) {
    int64_t n = 1;
    for (auto d : t.shape) n *= d;
    if (t.name == "model.embeddings.weight") p.embeddings += n;
    else if (t.name == "model.lower_bounds") p.lower_bounds += n;
    else if (t.shape.size() == 2) p.ternary += n;  // every matrix but the embeddings is a BitLinear weight
    else p.norms += n;
  }
  return p;
}

void run(const InfoOptions& o) {
  const HfCheckpoint ck(o.model);
  const ModelConfig& c = ck.config();
  const ParamCounts p = count_params(c);
  int64_t file_bytes = 0;
  for (const auto& [_, t] : ck.tensors()) file_bytes += static_cast<int64_t>(t->nbytes);
  // The running model keeps the embeddings mapped, one byte per ternary weight and floats for the rest.
  const int64_t planned_bytes = static_cast<int64_t>(ck.tensor("model.embeddings.weight").nbytes) + p.ternary +
                                4 * (p.norms + p.lower_bounds);
  nlohmann::json j = {{"config", c.to_json()},
                      {"parameters",
                       {{"total", p.total()},
                        {"embeddings", p.embeddings},
                        {"ternary_weights", p.ternary},
                        {"norm_weights", p.norms},
                        {"lower_bounds", p.lower_bounds}}},
                      {"checkpoint_bytes", file_bytes},
                      {"bytes_in_memory", planned_bytes},
                      {"state_bytes_per_sequence", 4 * c.num_layers * c.hidden_size}};
  if (o.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  auto mb = [](int64_t b) { return static_cast<double>(b) / 1e6; };
  std::printf("model        %s (hgrn_bit)\n", o.model.c_str());
  std::printf("config       d=%lld  layers=%lld  intermediate=%lld  vocab=%lld  heads=%lld  eps=%g  lower_bound=%s\n",
              (long long)c.hidden_size, (long long)c.num_layers, (long long)c.intermediate_size,
              (long long)c.vocab_size, (long long)c.num_heads, c.rms_norm_eps, c.use_lower_bound ? "yes" : "no");
  std::printf("parameters   %.3f M total\n", p.total() / 1e6);
  std::printf("  ternary    %.3f M  (BitLinear weights, lm_head included)\n", p.ternary / 1e6);
  std::printf("  embeddings %.3f M\n", p.embeddings / 1e6);
  std::printf("  norms      %.3f M\n", p.norms / 1e6);
  std::printf("  lower bnd  %.3f M\n", p.lower_bounds / 1e6);
  std::printf("checkpoint   %.2f MB of tensors on disk\n", mb(file_bytes));
  std::printf("in memory    %.2f MB planned (int8 ternary weights, mapped embeddings)\n", mb(planned_bytes));
  std::printf("state        %lld bytes per sequence (no KV cache)\n", (long long)(4 * c.num_layers * c.hidden_size));
}

void setup(CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  auto* cmd = app.add_subcommand("info", "Show a model's config, parameter counts and memory");
  cmd->add_option("--model", o->model, "Model directory (Hugging Face layout)")->required();
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
