#pragma once
// Builds variants of the tiny_a checkpoint in a directory (other dtypes, shards, damaged copies),
// so loading tests start from the original implementation's own file.
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "format/dtype.h"

namespace mmfree::test {

struct BuiltTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

struct CheckpointBuilder {
  nlohmann::json config;
  std::map<std::string, BuiltTensor> tensors;

  static CheckpointBuilder from_dir(const std::string& hf_dir);  // config + every tensor, as stored
  void convert_all(DType to);  // F32 <-> BF16/F16 of every float tensor (round to nearest even)
  // Writes config.json and either model.safetensors or `shards` files + model.safetensors.index.json.
  void write(const std::string& dir, int shards = 1) const;
};

}  // namespace mmfree::test
