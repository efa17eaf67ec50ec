#pragma once
// Writes an hgrn_bit model file (model_gguf.h) from any source of tensors: a Hugging Face
// checkpoint (mmfree convert) or random weights (mmfree init). Tensors are produced and written one
// at a time, in chunks of rows, so a 2.7B model never sits in memory whole.
#include <cstdint>
#include <functional>
#include <string>

#include "format/ggml_types.h"
#include "format/gguf.h"
#include "format/ternary_ggml.h"
#include "model/config.h"
#include "model/tensor_names.h"

namespace mmfree {

struct ModelFileOptions {
  TernaryFormat weights = TernaryFormat::TQ2_0_R8;  // rows that are not whole blocks fall back to I8
  GgmlType embeddings = GgmlType::F32;           // F32, F16, BF16 or Q8_0
  std::string name;                              // general.name
  std::vector<std::pair<std::string, GgufValue>> extra_metadata;  // e.g. the embedded tokenizer
};

class ModelTensorProvider {
 public:
  virtual ~ModelTensorProvider() = default;
  // Rows [row0, row0 + n) of a float tensor seen as [rows][cols] (a 1-D tensor is one row).
  virtual void float_rows(const TensorSpec& t, int64_t row0, int64_t n, float* out) = 0;
  // A BitLinear weight: its scale s_w, then its rows of {-1, 0, 1} in order, on demand.
  struct Ternary {
    float scale = 1;
    std::function<void(int64_t row0, int64_t n, int8_t* out)> rows;
  };
  virtual Ternary ternary(const TensorSpec& t) = 0;
};

void write_model_gguf(const std::string& path, const ModelConfig& c, ModelTensorProvider& src,
                      const ModelFileOptions& o);

}  // namespace mmfree
