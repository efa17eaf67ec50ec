#include "model/config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace mmfree {

using json = nlohmann::json;

int64_t ModelConfig::default_intermediate(int64_t d) {
  int64_t h = static_cast<int64_t>(static_cast<double>(d) * 4 * 2 / 3);
  return 256 * ((h + 255) / 256);
}

ModelConfig ModelConfig::from_json(const json& j, const std::string& where) {
  check(j.is_object(), where + ": not a JSON object");
  ModelConfig c;
  auto int_key = [&](const char* key, int64_t& dst, bool required, int64_t min_value) {
    if (!j.contains(key) || j[key].is_null()) {
      check(!required, where + ": missing required key '" + key + "'");
      return false;
    }
    check(j[key].is_number_integer(), where + ": key '" + key + "' must be an integer, got " + j[key].dump());
    dst = j[key].get<int64_t>();
    check(dst >= min_value, where + ": key '" + key + "' = " + std::to_string(dst) + " is out of range");
    return true;
  };
  auto bool_key = [&](const char* key, bool& dst) {
    if (!j.contains(key) || j[key].is_null()) return;
    check(j[key].is_boolean(), where + ": key '" + key + "' must be true or false, got " + j[key].dump());
    dst = j[key].get<bool>();
  };
  auto unsupported = [&](const std::string& key, const std::string& why) {
    throw Error(where + ": unsupported config value " + key + " = " + j[key].dump() + " (" + why + ")");
  };

  if (j.contains("model_type") && j["model_type"] != "hgrn_bit")
    unsupported("model_type", "mmfree runs hgrn_bit models");
  int_key("vocab_size", c.vocab_size, true, 1);
  int_key("hidden_size", c.hidden_size, true, 1);
  int_key("num_hidden_layers", c.num_layers, true, 1);
  int_key("num_heads", c.num_heads, false, 1);
  check(c.hidden_size % c.num_heads == 0, where + ": hidden_size is not a multiple of num_heads");
  if (!int_key("intermediate_size", c.intermediate_size, false, 1)) {
    if (j.contains("hidden_ratio") && !j["hidden_ratio"].is_null() && j["hidden_ratio"] != 4)
      unsupported("hidden_ratio", "only 4 is supported when intermediate_size is null");
    c.intermediate_size = default_intermediate(c.hidden_size);
  }
  if (j.contains("rms_norm_eps") && !j["rms_norm_eps"].is_null()) {
    check(j["rms_norm_eps"].is_number() && j["rms_norm_eps"].get<double>() > 0,
          where + ": key 'rms_norm_eps' must be a positive number");
    c.rms_norm_eps = j["rms_norm_eps"].get<double>();
  }
  bool_key("use_lower_bound", c.use_lower_bound);
  bool short_conv = false, tie = false;
  bool_key("use_short_conv", short_conv);
  if (short_conv) unsupported("use_short_conv", "no released model uses the short convolution");
  bool_key("tie_word_embeddings", tie);
  if (tie) unsupported("tie_word_embeddings", "the architecture has a separate lm_head");
  if (j.contains("expand_ratio") && !j["expand_ratio"].is_null() && j["expand_ratio"] != 1)
    unsupported("expand_ratio", "only 1 is supported");
  if (j.contains("hidden_act") && !j["hidden_act"].is_null() && j["hidden_act"] != "swish" && j["hidden_act"] != "silu")
    unsupported("hidden_act", "only swish is supported");
  int_key("bos_token_id", c.bos_token_id, false, 0);
  int_key("eos_token_id", c.eos_token_id, false, 0);
  c.check_limits(where);
  return c;
}

ModelConfig ModelConfig::from_file(const std::string& path) {
  std::ifstream in(path);
  check(static_cast<bool>(in), path + ": cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path + ": malformed JSON: " + e.what());
  }
  return from_json(j, path);
}

json ModelConfig::to_json() const {
  return {
      {"architectures", {"HGRNBitForCausalLM"}},
      {"model_type", "hgrn_bit"},
      {"attn_mode", "fused_recurrent"},
      {"vocab_size", vocab_size},
      {"hidden_size", hidden_size},
      {"num_hidden_layers", num_layers},
      {"num_heads", num_heads},
      {"expand_ratio", 1},
      {"hidden_ratio", 4},
      {"intermediate_size", intermediate_size},
      {"rms_norm_eps", rms_norm_eps},
      {"use_lower_bound", use_lower_bound},
      {"use_short_conv", false},
      {"conv_size", 4},
      {"share_conv_kernel", true},
      {"hidden_act", "swish"},
      {"bos_token_id", bos_token_id},
      {"eos_token_id", eos_token_id},
      {"tie_word_embeddings", false},
      {"fuse_cross_entropy", true},
      {"initializer_range", 0.02},
      {"max_position_embeddings", 2048},
      {"use_cache", true},
  };
}

void ModelConfig::check_limits(const std::string& where) const {
  auto within = [&](const char* key, int64_t v, int64_t hi) {
    check(v >= 1 && v <= hi, where + ": " + key + " = " + std::to_string(v) + " is out of range [1, " +
                                 std::to_string(hi) + "]");
  };
  within("vocab_size", vocab_size, kMaxVocab);
  within("hidden_size", hidden_size, kMaxHidden);
  within("num_hidden_layers", num_layers, kMaxLayers);
  within("intermediate_size", intermediate_size, kMaxIntermediate);
  within("num_heads", num_heads, hidden_size);
  check(bos_token_id >= 0 && bos_token_id <= kMaxVocab && eos_token_id >= 0 && eos_token_id <= kMaxVocab,
        where + ": bos_token_id / eos_token_id out of range");
}

void ModelConfig::check_fits(uint64_t stored_bytes, double min_bytes_per_parameter, const std::string& what) const {
  const double need = static_cast<double>(parameter_count()) * min_bytes_per_parameter;
  check(need <= static_cast<double>(stored_bytes),
        what + ": the config describes " + std::to_string(parameter_count()) + " parameters (" + std::to_string(num_layers) +
            " layers, hidden_size " + std::to_string(hidden_size) + ", vocab_size " + std::to_string(vocab_size) +
            "), at least " + std::to_string(static_cast<uint64_t>(need)) + " bytes stored, but the file holds " +
            std::to_string(stored_bytes) + " (corrupt config or truncated file)");
}

int64_t ModelConfig::parameter_count() const {
  const int64_t d = hidden_size, I = intermediate_size, V = vocab_size;
  int64_t per_layer = 3 * d + 4 * (d * d + d) + (2 * I * d + d) + (d * I + I);
  return 2 * V * d + num_layers * d + d + d + num_layers * per_layer;
}

}  // namespace mmfree
