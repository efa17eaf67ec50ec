#pragma once
// A Hugging Face model directory: config.json plus model.safetensors or the shards listed in
// model.safetensors.index.json. Tensors stay memory-mapped; every name, shape and dtype is checked
// against what the config implies before anything is computed.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "format/safetensors.h"
#include "model/config.h"

namespace mmfree {

class HfCheckpoint {
 public:
  explicit HfCheckpoint(const std::string& dir);

  const ModelConfig& config() const { return config_; }
  const std::string& dir() const { return dir_; }
  const TensorView& tensor(const std::string& name) const;
  const std::map<std::string, const TensorView*>& tensors() const { return tensors_; }

 private:
  std::string dir_;
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> tensors_;
};

bool is_hf_directory(const std::string& path);

}  // namespace mmfree
