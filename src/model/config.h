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

  // Default intermediate size for hidden size d: 256 * ceil(int(d * 4 * 2 / 3) / 256).
  static int64_t default_intermediate(int64_t d);
  int64_t parameter_count() const;
};

}  // namespace mmfree
