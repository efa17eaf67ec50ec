// Weights from a Hugging Face checkpoint: latent full-precision tensors, ternarised at load.
#include <set>

#include "format/float_codec.h"
#include "format/hf_checkpoint.h"
#include "model/tensor_names.h"
#include "model/weight_source.h"

namespace mmfree {

namespace {

class HfWeightSource final : public WeightSource {
 public:
  explicit HfWeightSource(const std::string& dir) : ck_(dir) {}

  const ModelConfig& config() const override { return ck_.config(); }
  std::vector<float> floats(const std::string& name) const override { return ck_.tensor(name).to_f32(); }
  PackedLinear bitlinear(const std::string& prefix) const override {
    return PackedLinear(ck_.tensor(prefix + ".weight"), ck_.tensor(prefix + ".norm.weight"));
  }
  EmbeddingTable embeddings() const override {
    const TensorView& e = ck_.tensor("model.embeddings.weight");
    return EmbeddingTable(float_storage_of(e.dtype), e.data, e.shape.at(0), e.shape.at(1));
  }
  StorageInfo storage() const override {
    StorageInfo s;
    s.format = "hf";
    for (const auto& [_, t] : ck_.tensors()) s.bytes += static_cast<int64_t>(t->nbytes);
    std::set<std::string> types;
    for (const auto& spec : expected_tensors(config()))
      if (spec.kind == TensorKind::Ternary) {
        const TensorView& t = ck_.tensor(spec.name);
        s.ternary_bytes += static_cast<int64_t>(t.nbytes);
        types.insert(dtype_name(t.dtype));
      }
    for (const auto& t : types) s.ternary_types += (s.ternary_types.empty() ? "" : "+") + t;
    s.embedding_type = dtype_name(ck_.tensor("model.embeddings.weight").dtype);
    return s;
  }

 private:
  HfCheckpoint ck_;
};

}  // namespace

std::shared_ptr<const WeightSource> open_hf_weights(const std::string& dir) {
  return std::make_shared<const HfWeightSource>(dir);
}

}  // namespace mmfree
