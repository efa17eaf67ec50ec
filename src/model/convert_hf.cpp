#include "model/convert_hf.h"

#include <cstring>
#include <memory>

#include "kernels/ternary_ref.h"
#include "tokenizer/tokenizer_gguf.h"
#include "util/error.h"

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

void convert_hf_to_gguf(const HfCheckpoint& ck, const std::string& out, ModelFileOptions o) {
  // The checkpoint's tokenizer travels inside the file, so the file alone is the whole model.
  if (!find_tokenizer_file(ck.dir()).empty()) {
    const auto tok = load_tokenizer(ck.dir());
    check(tok->vocab_size() <= ck.config().vocab_size,
          tok->name() + " has " + std::to_string(tok->vocab_size()) + " tokens, more than the model's vocabulary of " +
              std::to_string(ck.config().vocab_size));
    for (auto& kv : tokenizer_gguf_metadata(*tok)) o.extra_metadata.push_back(std::move(kv));
  }
  HfTensorProvider src(ck);
  write_model_gguf(out, ck.config(), src, o);
}

}  // namespace mmfree
