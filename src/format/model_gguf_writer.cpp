#include "format/model_gguf_writer.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "format/float_codec.h"
#include "format/gguf.h"
#include "format/model_gguf.h"
#include "format/q8_0.h"
#include "util/error.h"

namespace mmfree {

namespace {

constexpr int64_t kChunkElements = int64_t{1} << 20;  // rows are produced and written ~1M values at a time

int64_t rows_of(const TensorSpec& t) { return t.shape.size() == 2 ? t.shape[0] : 1; }
int64_t cols_of(const TensorSpec& t) { return t.shape.back(); }

std::vector<uint64_t> ggml_dims(const TensorSpec& t) { return {t.shape.rbegin(), t.shape.rend()}; }

void write_bytes(std::ostream& out, const std::vector<uint8_t>& b, size_t n) {
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(n));
}

void add_float_tensor(GgufWriter& w, ModelTensorProvider& src, const TensorSpec& spec, GgmlType type) {
  w.add_tensor(spec.name, type, ggml_dims(spec), [&src, spec, type](std::ostream& out) {
    const int64_t rows = rows_of(spec), cols = cols_of(spec);
    const int64_t chunk = std::max<int64_t>(1, kChunkElements / cols);
    const int64_t row_bytes = ggml_row_bytes(type, cols);
    std::vector<float> x(static_cast<size_t>(std::min(chunk, rows) * cols));
    std::vector<uint8_t> bytes(static_cast<size_t>(std::min(chunk, rows) * row_bytes));
    for (int64_t r = 0; r < rows; r += chunk) {
      const int64_t n = std::min(chunk, rows - r);
      src.float_rows(spec, r, n, x.data());
      encode_floats(type, x.data(), n * cols, bytes.data());
      write_bytes(out, bytes, static_cast<size_t>(n * row_bytes));
    }
  });
}

// The weight, then its scale. The scale is known once the weight's source has been asked for it,
// which happens when the weight is written, just before.
void add_ternary_tensor(GgufWriter& w, ModelTensorProvider& src, const TensorSpec& spec, TernaryFormat wanted) {
  const TernaryFormat f = default_format(cols_of(spec), wanted);
  auto scale = std::make_shared<float>(0.0f);
  w.add_tensor(spec.name, ternary_ggml_type(f), ggml_dims(spec), [&src, spec, f, scale](std::ostream& out) {
    const int64_t rows = rows_of(spec), cols = cols_of(spec);
    // TQ2_0_R8 puts every d after all the codes, so it is packed whole.
    const int64_t chunk = f == TernaryFormat::TQ2_0_R8 ? rows : std::max<int64_t>(1, kChunkElements / cols);
    ModelTensorProvider::Ternary t = src.ternary(spec);
    check(t.scale > 0 && std::isfinite(t.scale), "tensor '" + spec.name + "': weight scale " + std::to_string(t.scale) + " is not positive");
    *scale = t.scale;
    std::vector<int8_t> values(static_cast<size_t>(std::min(chunk, rows) * cols));
    std::vector<uint8_t> bytes(static_cast<size_t>(format_matrix_bytes(f, std::min(chunk, rows), cols)));
    for (int64_t r = 0; r < rows; r += chunk) {
      const int64_t n = std::min(chunk, rows - r);
      t.rows(r, n, values.data());
      pack_ternary(f, values.data(), n, cols, 1.0f / t.scale, bytes.data());
      write_bytes(out, bytes, static_cast<size_t>(format_matrix_bytes(f, n, cols)));
    }
  });
  w.add_tensor(weight_scale_name(spec.name), GgmlType::F32, {1}, [scale](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(scale.get()), 4);
  });
}

}  // namespace

void write_model_gguf(const std::string& path, const ModelConfig& c, ModelTensorProvider& src,
                      const ModelFileOptions& o) {
  check(is_float_storage(o.embeddings), "internal: embeddings cannot be stored as " +
                                            ggml_type_name(static_cast<uint32_t>(o.embeddings)));
  check(o.embeddings != GgmlType::Q8_0 || c.hidden_size % kQ8_0Block == 0,
        "--embeddings q8_0 needs a hidden size that is a multiple of 32, the model has " + std::to_string(c.hidden_size));
  GgufWriter w;
  w.add_metadata(gguf_key::kArchitecture, GgufValue::of_string(kModelArchitecture));
  w.add_metadata(gguf_key::kName, GgufValue::of_string(o.name));
  w.add_metadata(gguf_key::kAlignment, GgufValue::u32(kModelAlignment));
  w.add_metadata(gguf_key::kQuantizationVersion, GgufValue::u32(kQuantizationVersion));
  for (auto& [k, v] : config_metadata(c)) w.add_metadata(k, std::move(v));
  if (o.weights == TernaryFormat::TQ2_0_R8)
    w.add_metadata(gguf_key::kTernaryLayout, GgufValue::of_string(format_name(TernaryFormat::TQ2_0_R8)));
  for (const auto& [k, v] : o.extra_metadata) w.add_metadata(k, v);

  for (const auto& spec : expected_tensors(c)) {
    switch (spec.kind) {
      case TensorKind::Ternary: add_ternary_tensor(w, src, spec, o.weights); break;
      case TensorKind::Embeddings: add_float_tensor(w, src, spec, o.embeddings); break;
      case TensorKind::Norm:
      case TensorKind::LowerBounds: add_float_tensor(w, src, spec, GgmlType::F32); break;
    }
  }
  w.write(path);
}

}  // namespace mmfree
