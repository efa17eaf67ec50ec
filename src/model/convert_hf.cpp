#include "model/convert_hf.h"

#include <cstring>
#include <filesystem>
#include <memory>

#include "format/float_codec.h"
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

// Tensors of a converted file, decoded to what the writer packs again.
class GgufTensorProvider final : public ModelTensorProvider {
 public:
  explicit GgufTensorProvider(const ModelGguf& m) : m_(m) {}

  void float_rows(const TensorSpec& spec, int64_t row0, int64_t n, float* out) override {
    if (spec.kind == TensorKind::Embeddings) {
      const GgufTensorInfo& e = m_.embeddings();
      const int64_t cols = spec.shape.back(), row_bytes = ggml_row_bytes(e.type(), cols);
      for (int64_t r = 0; r < n; ++r) decode_floats(e.type(), e.data + (row0 + r) * row_bytes, cols, out + r * cols);
      return;
    }
    const std::vector<float> v = m_.floats(spec.name);
    const int64_t cols = spec.shape.back();
    std::memcpy(out, v.data() + row0 * cols, static_cast<size_t>(n * cols) * sizeof(float));
  }

  Ternary ternary(const TensorSpec& spec) override {
    const PackedTernary p = m_.ternary(spec.name);
    validate_ternary(p.weight, m_.path() + ": tensor '" + spec.name + "'");
    auto values = std::make_shared<std::vector<int8_t>>(static_cast<size_t>(p.weight.rows * p.weight.cols));
    unpack_ternary(p.weight, values->data());
    const int64_t cols = p.weight.cols;
    Ternary r;
    r.scale = p.scale;  // exact: the file's F32 scale, not recomputed
    r.rows = [values, cols](int64_t row0, int64_t n, int8_t* out) {
      std::memcpy(out, values->data() + row0 * cols, static_cast<size_t>(n * cols));
    };
    return r;
  }

 private:
  const ModelGguf& m_;
};

}  // namespace

void convert_gguf_to_gguf(const ModelGguf& m, const std::string& out, ModelFileOptions o) {
  std::error_code ec;
  check(!std::filesystem::equivalent(m.path(), out, ec), "--out " + out + " is the input file: write to another path");
  if (m.file().find(gguf_key::kName)) o.name = m.file().get_string(gguf_key::kName);  // the model keeps its name
  if (gguf_has_tokenizer(m.file()))
    for (auto& kv : tokenizer_gguf_metadata(*tokenizer_from_gguf(m.file()))) o.extra_metadata.push_back(std::move(kv));
  GgufTensorProvider src(m);
  write_model_gguf(out, m.config(), src, o);
}

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
