#include "train/param_layout.h"

#include <map>
#include <string>

#include "model/tensor_names.h"
#include "util/error.h"

namespace mmfree {

ParamLayout ParamLayout::of(const std::vector<Parameter>& params, int64_t L) {
  std::map<std::string, size_t> index;
  for (size_t k = 0; k < params.size(); ++k) index[params[k].name] = k;
  auto id = [&](const std::string& name) {
    auto it = index.find(name);
    check(it != index.end(), "internal: no parameter named " + name);
    return it->second;
  };
  auto bitlinear = [&](const std::string& prefix) { return BitLinearIds{id(prefix + ".weight"), id(prefix + ".norm.weight")}; };
  ParamLayout p;
  p.embeddings = id("model.embeddings.weight");
  p.lower_bounds = id("model.lower_bounds");
  p.final_norm = id("model.norm.weight");
  p.lm_head = bitlinear("lm_head");
  for (int64_t l = 0; l < L; ++l) {
    const std::string pre = layer_prefix(l);
    LayerIds ids;
    ids.attn_norm = id(pre + "attn_norm.weight");
    ids.mlp_norm = id(pre + "mlp_norm.weight");
    ids.g_norm = id(pre + "attn.g_norm.weight");
    ids.i = bitlinear(pre + "attn.i_proj");
    ids.f = bitlinear(pre + "attn.f_proj");
    ids.g = bitlinear(pre + "attn.g_proj");
    ids.o = bitlinear(pre + "attn.o_proj");
    ids.gate = bitlinear(pre + "mlp.gate_proj");
    ids.down = bitlinear(pre + "mlp.down_proj");
    p.layers.push_back(ids);
  }
  return p;
}

}  // namespace mmfree
