#pragma once
// The hyper-parameters of an hgrn_bit model, read from a Hugging Face config.json.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace mmfree {

struct ModelConfig {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 1024;        // d
  int64_t num_layers = 24;           // L
  int64_t num_heads = 1;             // a reshape only: the recurrence is element-wise
  int64_t intermediate_size = 2816;  // I (resolved when the config says null)
  double rms_norm_eps = 1e-6;
  bool use_lower_bound = true;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;

  // Parses and validates; `where` names the file in error messages. Values the engine does not
  // support (use_short_conv: true, tied embeddings, another activation, ...) are rejected.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& where);
  static ModelConfig from_file(const std::string& path);
  nlohmann::json to_json() const;  // a config.json the original implementation loads

  // Upper limits of the sizes, far above any released model, so that parameter_count() and every
  // tensor's byte count fit in int64 and a corrupt file fails before anything is allocated.
  static constexpr int64_t kMaxVocab = INT32_MAX;  // ids are int32
  static constexpr int64_t kMaxHidden = int64_t{1} << 16;
  static constexpr int64_t kMaxLayers = int64_t{1} << 12;
  static constexpr int64_t kMaxIntermediate = int64_t{1} << 18;
  // Throws Error naming `where` and the key unless every size lies within those limits.
  void check_limits(const std::string& where) const;
  // Throws Error unless `stored_bytes` can hold this model's parameters at `min_bytes_per_parameter`
  // each (the densest encoding the source allows): a config announcing more parameters than its
  // file can hold is refused before the tensor list or any buffer is built from it.
  void check_fits(uint64_t stored_bytes, double min_bytes_per_parameter, const std::string& what) const;

  // Default intermediate size for hidden size d: 256 * ceil(int(d * 4 * 2 / 3) / 256).
  static int64_t default_intermediate(int64_t d);
  int64_t parameter_count() const;
};

}  // namespace mmfree
