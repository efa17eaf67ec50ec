#pragma once
// Where a model's weights come from: a Hugging Face directory (latent full-precision weights,
// ternarised at load) or a converted .gguf file (weights already ternary, with their exact scales).
// Model::load picks by path kind; both give the same BitLinear layers and so the same logits.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/packed_linear.h"
#include "model/config.h"
#include "model/embedding_table.h"

namespace mmfree {

// What a model takes on disk, for `mmfree info`.
struct StorageInfo {
  std::string format;           // "hf" or "gguf"
  int64_t bytes = 0;            // the tensors of a HF checkpoint, the whole .gguf file
  int64_t ternary_bytes = 0;    // BitLinear weights as stored (latent floats in a HF checkpoint)
  std::string ternary_types;    // e.g. "BF16", "tq2_0", "tq2_0+i8"
  std::string embedding_type;   // e.g. "BF16", "q8_0"
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual const ModelConfig& config() const = 0;
  virtual std::vector<float> floats(const std::string& name) const = 0;  // norm weights, lower bounds
  // The BitLinear of weight "<prefix>.weight" with its RMSNorm "<prefix>.norm.weight".
  virtual PackedLinear bitlinear(const std::string& prefix) const = 0;
  // A view into the source's mapping: valid while the source lives.
  virtual EmbeddingTable embeddings() const = 0;
  virtual StorageInfo storage() const = 0;
};

std::shared_ptr<const WeightSource> open_hf_weights(const std::string& dir);
std::shared_ptr<const WeightSource> open_gguf_weights(const std::string& path);
// A directory with config.json is a HF checkpoint; a file is read as GGUF.
std::shared_ptr<const WeightSource> open_weight_source(const std::string& path);

}  // namespace mmfree
