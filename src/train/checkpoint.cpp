#include "train/checkpoint.h"

#include <cstring>

#include <algorithm>

#include "format/float_codec.h"
#include "util/atomic_write.h"
#include <filesystem>

#include "util/error.h"
#include "util/progress.h"

namespace mmfree {

namespace {
constexpr const char* kFormatKey = "mmfree_checkpoint";
constexpr const char* kFormatVersion = "1";
}  // namespace

void write_checkpoint(std::ostream& out, const std::vector<Parameter>& params, const AdamW& opt,
                      const CheckpointMeta& meta) {
  SafetensorsWriter w;
  for (size_t k = 0; k < params.size(); ++k) {
    const Parameter& p = params[k];
    w.add_f32("param." + p.name, p.shape, p.value);
    w.add_f32("adam_m." + p.name, p.shape, opt.first_moments()[k]);
    w.add_f32("adam_v." + p.name, p.shape, opt.second_moments()[k]);
  }
  w.set_metadata(kFormatKey, kFormatVersion);
  w.set_metadata("step", std::to_string(meta.step));
  w.set_metadata("adam_steps", std::to_string(meta.adam_steps));
  w.set_metadata("elapsed_s", nlohmann::json(meta.elapsed_s).dump());
  w.set_metadata("config", meta.config.to_json().dump());
  w.set_metadata("loader", meta.loader.to_json().dump());
  w.set_metadata("options", meta.options.dump());
  w.write_to(out);
}

void save_checkpoint(const std::string& path, const std::vector<Parameter>& params, const AdamW& opt,
                     const CheckpointMeta& meta) {
  int64_t bytes = 0;  // the weights and both moments, F32 (the header is small)
  for (const auto& p : params) bytes += 3 * static_cast<int64_t>(p.value.size() * sizeof(float));
  // The previous checkpoint is replaced only by one that reads back whole: its metadata parses and
  // every tensor restores, finite and of the model's shape (a diverged run must not destroy it).
  auto verify = [&](const std::string& tmp) { Checkpoint(tmp).check_holds(meta, params, opt); };
  write_file_atomically(path, [&](std::ostream& out) { write_checkpoint(out, params, opt, meta); }, bytes, verify);
}

bool Checkpoint::looks_like_checkpoint(const std::string& path) {
  try {
    SafetensorsFile f(path);
    return f.metadata().count(kFormatKey) > 0;
  } catch (const Error&) {
    return false;
  }
}

Checkpoint::Checkpoint(const std::string& path) : file_(path) {
  const auto& md = file_.metadata();
  auto field = [&](const char* key) -> const std::string& {
    auto it = md.find(key);
    check(it != md.end(), path + ": not an mmfree training checkpoint (metadata lacks '" + key + "')");
    return it->second;
  };
  check(field(kFormatKey) == kFormatVersion,
        path + ": training checkpoint version " + field(kFormatKey) + " is not supported (expected 1)");
  auto parse_int = [&](const char* key) {
    const std::string& s = field(key);
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(used == s.size() && v >= 0, path + ": corrupt checkpoint metadata '" + key + "' = " + s);
    return static_cast<int64_t>(v);
  };
  auto parse_json = [&](const char* key) {
    try {
      return nlohmann::json::parse(field(key));
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": corrupt checkpoint metadata '" + key + "': " + e.what());
    }
  };
  meta_.step = parse_int("step");
  meta_.adam_steps = parse_int("adam_steps");
  const auto elapsed = parse_json("elapsed_s");
  check(elapsed.is_number(), path + ": corrupt checkpoint metadata 'elapsed_s'");
  meta_.elapsed_s = elapsed.get<double>();
  meta_.config = ModelConfig::from_json(parse_json("config"), path + " (config)");
  meta_.config.check_fits(file_.file_size(), 4, path);  // every parameter is stored as F32
  meta_.loader = LoaderState::from_json(parse_json("loader"), path);
  meta_.options = parse_json("options");
  check(meta_.options.is_object(), path + ": corrupt checkpoint metadata 'options'");
}

void Checkpoint::restore(const ModelConfig& config, std::vector<Parameter>& params, AdamW* opt) const {
  const std::string diff = config_difference(meta_.config, config);
  check(diff.empty(), path() + ": the checkpoint holds another model (checkpoint vs this run: " + diff + ")");
  auto copy = [&](const std::string& name, const Parameter& p, std::span<float> dst) {
    const TensorView& t = file_.get(name);
    check(t.dtype == DType::F32 && t.shape == p.shape,
          path() + ": tensor '" + name + "' has shape " + t.shape_str() + " " + dtype_name(t.dtype) +
              ", expected F32 of the model's shape");
    check_finite(GgmlType::F32, t.data, t.numel(), path() + ": tensor '" + name + "'");
    const std::vector<float> v = t.to_f32();
    std::copy(v.begin(), v.end(), dst.begin());
  };
  double bytes = 0;
  for (const auto& p : params) bytes += static_cast<double>((opt ? 3 : 1) * p.value.size() * sizeof(float));
  Progress progress("reading " + std::filesystem::path(path()).filename().string(), bytes, "B");
  for (size_t k = 0; k < params.size(); ++k) {
    copy("param." + params[k].name, params[k], params[k].value);
    if (opt) {
      copy("adam_m." + params[k].name, params[k], opt->first_moments()[k]);
      copy("adam_v." + params[k].name, params[k], opt->second_moments()[k]);
    }
    progress.add(static_cast<double>((opt ? 3 : 1) * params[k].value.size() * sizeof(float)));
  }
  if (opt) opt->set_steps_taken(meta_.adam_steps);
}

void Checkpoint::check_holds(const CheckpointMeta& meta, const std::vector<Parameter>& params, const AdamW& opt) const {
  const std::string diff = config_difference(meta_.config, meta.config);
  check(diff.empty() && meta_.step == meta.step, path() + ": reads back another model or step than was written");
  auto same = [&](const std::string& name, std::span<const float> want) {
    const TensorView& t = file_.get(name);
    check(t.dtype == DType::F32 && t.nbytes == want.size() * 4 && std::memcmp(t.data, want.data(), t.nbytes) == 0,
          path() + ": tensor '" + name + "' reads back other bytes than were written (disk error?)");
    check_finite(GgmlType::F32, t.data, t.numel(), path() + ": tensor '" + name + "'");
  };
  for (size_t k = 0; k < params.size(); ++k) {
    same("param." + params[k].name, params[k].value);
    same("adam_m." + params[k].name, opt.first_moments()[k]);
    same("adam_v." + params[k].name, opt.second_moments()[k]);
  }
}

std::string config_difference(const ModelConfig& a, const ModelConfig& b) {
  const auto ja = a.to_json(), jb = b.to_json();
  for (const auto& [key, va] : ja.items()) {
    const auto& vb = jb.at(key);
    if (va != vb) return key + " " + va.dump() + " vs " + vb.dump();
  }
  return "";
}

}  // namespace mmfree
