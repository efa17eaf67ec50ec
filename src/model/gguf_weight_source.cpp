// Weights from a converted .gguf model file: ternary already, with their exact F32 scales.
#include <set>

#include "format/model_gguf.h"
#include "model/tensor_names.h"
#include "model/weight_source.h"
#include "util/error.h"

namespace mmfree {

namespace {

class GgufWeightSource final : public WeightSource {
 public:
  explicit GgufWeightSource(const std::string& path) : m_(path) {}

  const ModelConfig& config() const override { return m_.config(); }
  std::vector<float> floats(const std::string& name) const override { return m_.floats(name); }

  // Zero-copy: the BitLinear reads the packed rows where they lie in the mapping (which this source
  // keeps alive): every tensor starts on a 64-byte line, so TQ2_0_R8's blocks are line-aligned
  // (TQ2_0's 66-byte blocks are loaded unaligned). One pass checks every code is ternary.
  PackedLinear bitlinear(const std::string& prefix) const override {
    const std::string name = prefix + ".weight";
    const PackedTernary p = m_.ternary(name);
    validate_ternary(p.weight, m_.path() + ": tensor '" + name + "'");
    return PackedLinear(p.weight, p.scale, m_.floats(prefix + ".norm.weight"));
  }

  EmbeddingTable embeddings() const override {
    const GgufTensorInfo& e = m_.embeddings();
    const auto shape = e.shape();
    return EmbeddingTable(e.type(), e.data, shape.at(0), shape.at(1));
  }

  StorageInfo storage() const override {
    StorageInfo s;
    s.format = "gguf";
    s.bytes = static_cast<int64_t>(m_.file().file_size());
    std::set<std::string> types;
    for (const auto& spec : expected_tensors(config()))
      if (spec.kind == TensorKind::Ternary) {
        s.ternary_bytes += static_cast<int64_t>(m_.file().tensor(spec.name).nbytes);
        types.insert(format_name(m_.ternary(spec.name).weight.format));  // tq2_0_r8 where the file says so
      }
    for (const auto& t : types) s.ternary_types += (s.ternary_types.empty() ? "" : "+") + t;
    s.embedding_type = ggml_type_name(m_.embeddings().type_id);
    return s;
  }

 private:
  ModelGguf m_;
};

}  // namespace

std::shared_ptr<const WeightSource> open_gguf_weights(const std::string& path) {
  return std::make_shared<const GgufWeightSource>(path);
}

}  // namespace mmfree
