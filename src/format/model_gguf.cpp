#include "format/model_gguf.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "format/float_codec.h"
#include "model/tensor_names.h"
#include "util/error.h"

namespace mmfree {

std::string weight_scale_name(const std::string& weight_name) { return weight_name + "_scale"; }

std::vector<std::pair<std::string, GgufValue>> config_metadata(const ModelConfig& c) {
  auto u32 = [](int64_t v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  return {
      {gguf_key::kVocabSize, u32(c.vocab_size)},
      {gguf_key::kEmbeddingLength, u32(c.hidden_size)},
      {gguf_key::kBlockCount, u32(c.num_layers)},
      {gguf_key::kFeedForwardLength, u32(c.intermediate_size)},
      {gguf_key::kHeadCount, u32(c.num_heads)},
      {gguf_key::kRmsEps, GgufValue::f32(static_cast<float>(c.rms_norm_eps))},
      {gguf_key::kUseLowerBound, GgufValue::of_bool(c.use_lower_bound)},
      {gguf_key::kBosId, u32(c.bos_token_id)},
      {gguf_key::kEosId, u32(c.eos_token_id)},
  };
}

namespace {
// The shortest decimal that reads back as the same float, as a double: a float32 key written from
// 1e-6 reads back as 1e-6, not 9.99999997e-07, so the config equals the checkpoint's.
double decimal_value(double float32_value) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(float32_value));
  return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
}
}  // namespace

ModelConfig config_from_metadata(const GgufFile& f) {
  const std::string& arch = f.get_string(gguf_key::kArchitecture);
  check(arch == kModelArchitecture, f.path() + ": general.architecture is '" + arch + "', mmfree runs '" +
                                        kModelArchitecture + "' models");
  auto count = [&](const char* key, int64_t min_value, int64_t max_value) {
    const int64_t v = f.get_int(key);
    check(v >= min_value && v <= max_value, f.path() + ": metadata key '" + key + "' = " + std::to_string(v) +
                                                " is out of range [" + std::to_string(min_value) + ", " +
                                                std::to_string(max_value) + "]");
    return v;
  };
  ModelConfig c;
  c.vocab_size = count(gguf_key::kVocabSize, 1, ModelConfig::kMaxVocab);
  c.hidden_size = count(gguf_key::kEmbeddingLength, 1, ModelConfig::kMaxHidden);
  c.num_layers = count(gguf_key::kBlockCount, 1, ModelConfig::kMaxLayers);
  c.intermediate_size = count(gguf_key::kFeedForwardLength, 1, ModelConfig::kMaxIntermediate);
  c.num_heads = count(gguf_key::kHeadCount, 1, c.hidden_size);
  check(c.hidden_size % c.num_heads == 0, f.path() + ": metadata: embedding_length " + std::to_string(c.hidden_size) +
                                              " is not a multiple of head_count " + std::to_string(c.num_heads));
  c.rms_norm_eps = decimal_value(f.get_float(gguf_key::kRmsEps));
  check(std::isfinite(c.rms_norm_eps) && c.rms_norm_eps > 0,
        f.path() + ": metadata key '" + gguf_key::kRmsEps + "' must be a positive number");
  c.use_lower_bound = f.get_bool(gguf_key::kUseLowerBound);
  // Token ids are optional in GGUF; without them the config's defaults (1, 2) hold.
  if (f.find(gguf_key::kBosId)) c.bos_token_id = count(gguf_key::kBosId, 0, ModelConfig::kMaxVocab);
  if (f.find(gguf_key::kEosId)) c.eos_token_id = count(gguf_key::kEosId, 0, ModelConfig::kMaxVocab);
  c.check_limits(f.path() + ": metadata");
  return c;
}

namespace {
std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

float read_scale(const GgufTensorInfo& s) {
  float v;
  std::memcpy(&v, s.data, 4);
  return v;
}
}  // namespace

ModelGguf::ModelGguf(const std::string& path) : file_(path), config_(config_from_metadata(file_)) {
  const std::string& p = file_.path();
  // TQ1_0 (54 bytes per 256 weights) is the densest encoding a model file may use.
  config_.check_fits(file_.file_size(), 54.0 / 256, p);
  if (file_.find(gguf_key::kTernaryLayout)) {
    const std::string& layout = file_.get_string(gguf_key::kTernaryLayout);
    check(layout == format_name(TernaryFormat::TQ2_0_R8), p + ": metadata key '" + gguf_key::kTernaryLayout + "' is '" +
                                                              layout + "', mmfree knows only 'tq2_0_r8'");
    tq2_r8_ = true;
  }
  std::set<std::string> expected;
  for (const auto& spec : expected_tensors(config_)) {
    expected.insert(spec.name);
    const GgufTensorInfo& t = file_.tensor(spec.name);
    const std::string where = p + ": tensor '" + spec.name + "' ";
    check(t.shape() == spec.shape, where + "has shape " + t.shape_str() + ", the config implies " + shape_str(spec.shape));
    const std::string type = ggml_type_name(t.type_id);
    switch (spec.kind) {
      case TensorKind::Ternary: {
        TernaryFormat f;
        check(ternary_format_of(t.type_id, &f), where + "has type " + type + ", expected tq2_0, tq1_0 or i8");
        const std::string sn = weight_scale_name(spec.name);
        expected.insert(sn);
        const GgufTensorInfo& s = file_.tensor(sn);
        check(s.type() == GgmlType::F32 && s.shape() == std::vector<int64_t>{1},
              p + ": tensor '" + sn + "' must be one f32, has type " + ggml_type_name(s.type_id) + " and shape " + s.shape_str());
        const float v = read_scale(s);
        check(std::isfinite(v) && v > 0, p + ": tensor '" + sn + "' holds " + std::to_string(v) +
                                             ", a weight scale must be a positive finite number");
        break;
      }
      case TensorKind::Embeddings:
        check(is_float_storage(t.type()), where + "has type " + type + ", expected f32, f16, bf16 or q8_0");
        check_finite(t.type(), t.data, t.numel(), p + ": tensor '" + spec.name + "'");
        break;
      case TensorKind::Norm:
      case TensorKind::LowerBounds:
        check(t.type() == GgmlType::F32, where + "has type " + type + ", expected f32");
        check_finite(t.type(), t.data, t.numel(), p + ": tensor '" + spec.name + "'");
        break;
    }
  }
  for (const auto& t : file_.tensors())
    check(expected.count(t.name) != 0, p + ": unexpected tensor '" + t.name + "' (not part of an hgrn_bit model with this config)");
}

PackedTernary ModelGguf::ternary(const std::string& weight_name) const {
  const GgufTensorInfo& t = file_.tensor(weight_name);
  PackedTernary w;
  check(ternary_format_of(t.type_id, &w.weight.format), path() + ": tensor '" + weight_name + "' is not ternary");
  if (tq2_r8_ && w.weight.format == TernaryFormat::TQ2_0) w.weight.format = TernaryFormat::TQ2_0_R8;
  const std::vector<int64_t> shape = t.shape();
  w.weight.rows = shape.at(0);
  w.weight.cols = shape.at(1);
  w.weight.data = t.data;
  w.scale = read_scale(file_.tensor(weight_scale_name(weight_name)));
  return w;
}

std::vector<float> ModelGguf::floats(const std::string& name) const {
  const GgufTensorInfo& t = file_.tensor(name);
  check(t.type() == GgmlType::F32, path() + ": tensor '" + name + "' is not f32");
  std::vector<float> v(static_cast<size_t>(t.numel()));
  std::memcpy(v.data(), t.data, v.size() * 4);
  return v;
}

const GgufTensorInfo& ModelGguf::embeddings() const { return file_.tensor("model.embeddings.weight"); }

}  // namespace mmfree
