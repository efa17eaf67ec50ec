#include "model/tensor_names.h"

namespace mmfree {

std::string layer_prefix(int64_t l) { return "model.layers." + std::to_string(l) + "."; }

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
  const int64_t d = c.hidden_size, I = c.intermediate_size, V = c.vocab_size, L = c.num_layers;
  std::vector<TensorSpec> t = {
      {"model.embeddings.weight", {V, d}, TensorKind::Embeddings},
      {"model.lower_bounds", {L, d}, TensorKind::LowerBounds},
      {"model.norm.weight", {d}},
      {"lm_head.weight", {V, d}, TensorKind::Ternary},
      {"lm_head.norm.weight", {d}},
  };
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = layer_prefix(l);
    t.push_back({p + "attn_norm.weight", {d}});
    t.push_back({p + "mlp_norm.weight", {d}});
    t.push_back({p + "attn.g_norm.weight", {d}});
    for (const char* proj : kAttnProjections) {
      t.push_back({p + "attn." + proj + ".weight", {d, d}, TensorKind::Ternary});
      t.push_back({p + "attn." + proj + ".norm.weight", {d}});
    }
    t.push_back({p + "mlp.gate_proj.weight", {2 * I, d}, TensorKind::Ternary});
    t.push_back({p + "mlp.gate_proj.norm.weight", {d}});
    t.push_back({p + "mlp.down_proj.weight", {d, I}, TensorKind::Ternary});
    t.push_back({p + "mlp.down_proj.norm.weight", {I}});
  }
  return t;
}

}  // namespace mmfree
