#include "cli/model_file_flags.h"

#include <cstdio>

#include "model/tensor_names.h"
#include "model/weight_source.h"
#include "util/error.h"

namespace mmfree::cli {

void add_model_file_flags(CLI::App* cmd, ModelFileFlags& f, const std::string& embeddings_default) {
  cmd->add_option("--weights", f.weights,
                  "Ternary weights: tq2_0_r8 (2.06 bits/weight, ggml's TQ2_0 type rearranged for mmfree's kernels: "
                  "the fastest), tq2_0 (ggml's own layout, for other GGUF tools) or tq1_0 (1.69 bits/weight, the "
                  "smallest); rows that are not a multiple of 256 weights are stored as i8")
      ->check(CLI::IsMember({"tq2_0_r8", "tq2_0", "tq1_0"}))
      ->capture_default_str();
  cmd->add_option("--embeddings", f.embeddings, "Embedding storage: f32, f16, bf16 or q8_0 (default: " + embeddings_default + ")")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}));
}

ModelFileOptions model_file_options(const ModelFileFlags& f, GgmlType default_embeddings, std::string name) {
  ModelFileOptions o;
  o.weights = parse_format(f.weights);
  o.embeddings = default_embeddings;
  for (auto t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0})
    if (f.embeddings == ggml_type_traits(t).name) o.embeddings = t;
  o.name = std::move(name);
  return o;
}

void print_written_model(const std::string& path, double seconds) {
  const auto src = open_weight_source(path);  // reads the new file back: a check that it is whole
  const StorageInfo s = src->storage();
  int64_t ternary_params = 0;
  for (const auto& spec : expected_tensors(src->config()))
    if (spec.kind == TensorKind::Ternary) ternary_params += spec.shape[0] * spec.shape[1];
  std::printf("wrote %s: %.2f MB in %.1f s | ternary weights %s, %.4f bits/weight | embeddings %s\n", path.c_str(),
              static_cast<double>(s.bytes) / 1e6, seconds, s.ternary_types.c_str(),
              8.0 * static_cast<double>(s.ternary_bytes) / static_cast<double>(ternary_params), s.embedding_type.c_str());
}

}  // namespace mmfree::cli
