#pragma once
// An hgrn_bit model in one GGUF file (layout in docs/FORMATS.md, "## GGUF"): the config as
// metadata, tensors under their Hugging Face names, BitLinear weights ternary (TQ2_0, TQ1_0, or I8
// for rows that are not whole 256-weight blocks) each with its exact F32 scale in
// "<weight>_scale", norms and lower bounds F32, embeddings F32/F16/BF16/Q8_0.
// ModelGguf opens such a file and validates all of it; nothing is copied out of the mapping.
#include <cstdint>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "format/ternary_ggml.h"
#include "model/config.h"

namespace mmfree {

inline constexpr const char* kModelArchitecture = "hgrn_bit";
inline constexpr uint32_t kModelAlignment = 64;       // a cache line: every tensor starts on one
inline constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION, whose TQ1_0/TQ2_0 we write

namespace gguf_key {
inline constexpr const char* kArchitecture = "general.architecture";
inline constexpr const char* kName = "general.name";
inline constexpr const char* kAlignment = "general.alignment";
inline constexpr const char* kQuantizationVersion = "general.quantization_version";
inline constexpr const char* kVocabSize = "hgrn_bit.vocab_size";
inline constexpr const char* kEmbeddingLength = "hgrn_bit.embedding_length";
inline constexpr const char* kBlockCount = "hgrn_bit.block_count";
inline constexpr const char* kFeedForwardLength = "hgrn_bit.feed_forward_length";
inline constexpr const char* kHeadCount = "hgrn_bit.attention.head_count";
inline constexpr const char* kRmsEps = "hgrn_bit.attention.layer_norm_rms_epsilon";
inline constexpr const char* kUseLowerBound = "hgrn_bit.use_lower_bound";
inline constexpr const char* kBosId = "tokenizer.ggml.bos_token_id";
inline constexpr const char* kEosId = "tokenizer.ggml.eos_token_id";
// "tq2_0_r8" when the file's TQ2_0 tensors hold mmfree's rearranged TQ2_0_R8 layout (same type,
// shape and size; kernels/ternary_layout.h); absent: ggml's own TQ2_0 layout.
inline constexpr const char* kTernaryLayout = "mmfree.ternary_layout";
}  // namespace gguf_key

// "model.layers.0.attn.i_proj.weight" -> "model.layers.0.attn.i_proj.weight_scale"
std::string weight_scale_name(const std::string& weight_name);

// A BitLinear weight as stored: the bytes a kernel reads, and the exact per-tensor scale s_w
// (y = (T q) / (s_x * s_w)). Every TQ block also carries d = f16(1 / s_w) for other tools.
struct PackedTernary {
  TernaryMatrix weight;  // its bytes lie in the mapping
  float scale = 1;
};

class ModelGguf {
 public:
  explicit ModelGguf(const std::string& path);

  const GgufFile& file() const { return file_; }
  const std::string& path() const { return file_.path(); }
  const ModelConfig& config() const { return config_; }

  PackedTernary ternary(const std::string& weight_name) const;
  std::vector<float> floats(const std::string& name) const;  // a norm or the lower bounds
  const GgufTensorInfo& embeddings() const;                   // F32, F16, BF16 or Q8_0, [V, d]

 private:
  GgufFile file_;
  ModelConfig config_;
  bool tq2_r8_ = false;  // TQ2_0 tensors are TQ2_0_R8 (gguf_key::kTernaryLayout)
};

// The config as GGUF metadata, and back (validated, naming the file and key on failure).
std::vector<std::pair<std::string, GgufValue>> config_metadata(const ModelConfig& c);
ModelConfig config_from_metadata(const GgufFile& f);

}  // namespace mmfree
