#include "model/convert_hf.h"

#include <cstring>
#include <memory>

#include "kernels/ternary_ref.h"

namespace mmfree {

namespace {

class HfTensorProvider final : public ModelTensorProvider {
 public:
  explicit HfTensorProvider(const HfCheckpoint& ck) : ck_(ck) {}

  void float_rows(const TensorSpec& spec, int64_t row0, int64_t n, float* out) override {
    const TensorView& t = ck_.tensor(spec.name);
    const int64_t cols = spec.shape.back();
    convert_to_f32(t.dtype, t.data + row0 * cols * static_cast<int64_t>(dtype_size(t.dtype)), out,
                   static_cast<size_t>(n * cols));
  }

  Ternary ternary(const TensorSpec& spec) override {
    const TensorView& t = ck_.tensor(spec.name);
    const int64_t cols = spec.shape.back();
    auto values = std::make_shared<std::vector<int8_t>>(static_cast<size_t>(t.numel()));
    Ternary r;
    r.scale = ternarize_ref(t.to_f32().data(), t.numel(), values->data());
    r.rows = [values, cols](int64_t row0, int64_t n, int8_t* out) {
      std::memcpy(out, values->data() + row0 * cols, static_cast<size_t>(n * cols));
    };
    return r;
  }

 private:
  const HfCheckpoint& ck_;
};

}  // namespace

void convert_hf_to_gguf(const HfCheckpoint& ck, const std::string& out, const ModelFileOptions& o) {
  HfTensorProvider src(ck);
  write_model_gguf(out, ck.config(), src, o);
}

}  // namespace mmfree
