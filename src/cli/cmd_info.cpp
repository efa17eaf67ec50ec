// mmfree info: what a model is: its config, its parameters by kind, and the memory it takes.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "cli/command.h"
#include "cli/default_model.h"
#include "kernels/ternary_format.h"
#include "model/tensor_names.h"
#include "model/weight_source.h"

namespace mmfree::cli {
namespace {

struct InfoOptions {
  std::string model;
  bool json = false, devices = false;
};

// --devices: the backends this binary has, whether or not a model is given.
void list_devices(bool json) {
  const auto lines = describe_backends();
  if (json) {
    std::printf("%s\n", nlohmann::json{{"devices", lines}}.dump(2).c_str());
    return;
  }
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
}

struct ParamCounts {
  int64_t embeddings = 0, ternary = 0, norms = 0, lower_bounds = 0;
  int64_t total() const { return embeddings + ternary + norms + lower_bounds; }
};

ParamCounts count_params(const ModelConfig& c) {
  ParamCounts p;
  for (const auto& t : expected_tensors(c)) {
    int64_t n = 1;
    for (auto d : t.shape) n *= d;
    switch (t.kind) {
      case TensorKind::Embeddings: p.embeddings += n; break;
      case TensorKind::LowerBounds: p.lower_bounds += n; break;
      case TensorKind::Ternary: p.ternary += n; break;
      case TensorKind::Norm: p.norms += n; break;
    }
  }
  return p;
}

void run(const InfoOptions& o) {
  if (o.devices) return list_devices(o.json);
  const auto src = open_weight_source(o.model);
  const ModelConfig& c = src->config();
  const ParamCounts p = count_params(c);
  const StorageInfo s = src->storage();
  const EmbeddingTable emb = src->embeddings();
  const double bits_per_weight = 8.0 * static_cast<double>(s.ternary_bytes) / static_cast<double>(p.ternary);
  // The running model keeps the embeddings mapped, the ternary weights packed (a .gguf file's mapped
  // as stored; a Hugging Face directory's packed at load as TQ2_0_R8, or I8 where rows are not whole
  // blocks) and floats for the rest.
  int64_t ternary_bytes = s.ternary_bytes;
  if (s.format != "gguf") {
    ternary_bytes = 0;
    for (const auto& spec : expected_tensors(c))
      if (spec.kind == TensorKind::Ternary)
        ternary_bytes += format_matrix_bytes(default_format(spec.shape[1]), spec.shape[0], spec.shape[1]);
  }
  const int64_t planned_bytes = emb.rows() * emb.row_bytes() + ternary_bytes + 4 * (p.norms + p.lower_bounds);
  nlohmann::json j = {{"config", c.to_json()},
                      {"parameters",
                       {{"total", p.total()},
                        {"embeddings", p.embeddings},
                        {"ternary_weights", p.ternary},
                        {"norm_weights", p.norms},
                        {"lower_bounds", p.lower_bounds}}},
                      {"format", s.format},
                      {"checkpoint_bytes", s.bytes},
                      {"ternary_storage",
                       {{"types", s.ternary_types}, {"bytes", s.ternary_bytes}, {"bits_per_weight", bits_per_weight}}},
                      {"embedding_type", s.embedding_type},
                      {"bytes_in_memory", planned_bytes},
                      {"state_bytes_per_sequence", 4 * c.num_layers * c.hidden_size}};
  if (o.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  auto mb = [](int64_t b) { return static_cast<double>(b) / 1e6; };
  std::printf("model        %s (hgrn_bit, %s)\n", o.model.c_str(), s.format == "gguf" ? "converted .gguf file" : "Hugging Face directory");
  std::printf("config       d=%lld  layers=%lld  intermediate=%lld  vocab=%lld  heads=%lld  eps=%g  lower_bound=%s\n",
              (long long)c.hidden_size, (long long)c.num_layers, (long long)c.intermediate_size,
              (long long)c.vocab_size, (long long)c.num_heads, c.rms_norm_eps, c.use_lower_bound ? "yes" : "no");
  std::printf("parameters   %.3f M total\n", p.total() / 1e6);
  std::printf("  ternary    %.3f M  (BitLinear weights, lm_head included)\n", p.ternary / 1e6);
  std::printf("  embeddings %.3f M\n", p.embeddings / 1e6);
  std::printf("  norms      %.3f M\n", p.norms / 1e6);
  std::printf("  lower bnd  %.3f M\n", p.lower_bounds / 1e6);
  std::printf("on disk      %.2f MB (%s)\n", mb(s.bytes), s.format == "gguf" ? "whole file" : "tensors");
  std::printf("  ternary    %s, %.4f bits per weight\n", s.ternary_types.c_str(), bits_per_weight);
  std::printf("  embeddings %s\n", s.embedding_type.c_str());
  std::printf("in memory    %.2f MB planned (packed ternary weights, mapped embeddings)\n", mb(planned_bytes));
  std::printf("state        %lld bytes per sequence (no KV cache)\n", (long long)(4 * c.num_layers * c.hidden_size));
}

void setup(CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  auto* cmd = app.add_subcommand("info", "Show a model's config, parameter counts and memory");
  add_model_option(cmd, o->model);
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->add_flag("--devices", o->devices, "List the devices (backends) this mmfree has, for --device");
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
