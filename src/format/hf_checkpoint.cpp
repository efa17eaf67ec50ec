#include "format/hf_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "format/float_codec.h"
#include "model/tensor_names.h"
#include "util/error.h"

namespace mmfree {

namespace fs = std::filesystem;
using json = nlohmann::json;

bool is_hf_directory(const std::string& path) {
  return fs::is_directory(path) && fs::exists(fs::path(path) / "config.json");
}

namespace {

// The shard files named by model.safetensors.index.json, and the file each tensor should be in.
std::map<std::string, std::string> read_index(const fs::path& index_path) {
  std::ifstream in(index_path);
  check(static_cast<bool>(in), index_path.string() + ": cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(index_path.string() + ": malformed JSON: " + e.what());
  }
  check(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
        index_path.string() + ": missing object 'weight_map'");
  std::map<std::string, std::string> weight_map;
  for (auto& [name, file] : j["weight_map"].items()) {
    check(file.is_string(), index_path.string() + ": weight_map entry '" + name + "' is not a file name");
    std::string f = file.get<std::string>();
    check(f.find('/') == std::string::npos && f != ".." && !f.empty(),
          index_path.string() + ": weight_map entry '" + name + "' names a path outside the directory: " + f);
    weight_map[name] = f;
  }
  return weight_map;
}

}  // namespace

HfCheckpoint::HfCheckpoint(const std::string& dir) : dir_(dir) {
  const fs::path d(dir);
  check(fs::is_directory(d), dir + ": not a directory");
  config_ = ModelConfig::from_file((d / "config.json").string());

  const fs::path single = d / "model.safetensors", index = d / "model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;
  std::vector<std::string> shard_names;
  if (fs::exists(index)) {
    weight_map = read_index(index);
    std::set<std::string> unique;
    for (auto& [_, f] : weight_map) unique.insert(f);
    shard_names.assign(unique.begin(), unique.end());
  } else {
    check(fs::exists(single), dir + ": neither model.safetensors nor model.safetensors.index.json found");
    shard_names.push_back("model.safetensors");
  }

  for (const auto& name : shard_names) {
    const std::string path = (d / name).string();
    check(fs::exists(path), path + ": shard listed in the index is missing");
    files_.push_back(std::make_unique<SafetensorsFile>(path));
    for (const auto& [tname, view] : files_.back()->tensors()) {
      auto [it, fresh] = tensors_.emplace(tname, &view);
      check(fresh, path + ": tensor '" + tname + "' also appears in " + it->second->file);
      if (!weight_map.empty()) {
        auto w = weight_map.find(tname);
        check(w != weight_map.end() && w->second == name,
              path + ": tensor '" + tname + "' is not listed for this shard in model.safetensors.index.json");
      }
    }
  }
  for (const auto& [tname, file] : weight_map)
    check(tensors_.count(tname) != 0, (d / file).string() + ": missing tensor '" + tname + "' listed in the index");

  // The config is bounded by the files before its tensor list is built: 2 bytes (BF16, F16) is the
  // least a parameter takes here.
  uint64_t stored = 0;
  for (const auto& [_, view] : tensors_) stored += view->nbytes;
  config_.check_fits(stored, 2, (d / "config.json").string());

  // Every tensor the config implies, with its shape and a float type; nothing else.
  std::set<std::string> expected;
  for (const auto& spec : expected_tensors(config_)) {
    expected.insert(spec.name);
    auto it = tensors_.find(spec.name);
    check(it != tensors_.end(), dir + ": missing tensor '" + spec.name + "'");
    const TensorView& t = *it->second;
    TensorView want;
    want.shape = spec.shape;
    check(t.shape == spec.shape, t.file + ": tensor '" + spec.name + "' has shape " + t.shape_str() +
                                     ", the config implies " + want.shape_str());
    check(t.dtype == DType::F32 || t.dtype == DType::BF16 || t.dtype == DType::F16,
          t.file + ": tensor '" + spec.name + "' has dtype " + dtype_name(t.dtype) + ", expected F32, BF16 or F16");
    check_finite(float_storage_of(t.dtype), t.data, t.numel(), t.file + ": tensor '" + spec.name + "'");
  }
  for (const auto& [tname, view] : tensors_)
    check(expected.count(tname) != 0, view->file + ": unexpected tensor '" + tname + "' (not part of an hgrn_bit model with this config)");
}

const TensorView& HfCheckpoint::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  check(it != tensors_.end(), dir_ + ": missing tensor '" + name + "'");
  return *it->second;
}

}  // namespace mmfree
