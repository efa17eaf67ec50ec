#include "checkpoint_builder.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "format/safetensors.h"
#include "util/half.h"

namespace mmfree::test {

CheckpointBuilder CheckpointBuilder::from_dir(const std::string& hf_dir) {
  CheckpointBuilder b;
  std::ifstream in(hf_dir + "/config.json");
  b.config = nlohmann::json::parse(in);
  SafetensorsFile f(hf_dir + "/model.safetensors");
  for (const auto& [name, t] : f.tensors())
    b.tensors[name] = BuiltTensor{t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)};
  return b;
}

void CheckpointBuilder::convert_all(DType to) {
  for (auto& [name, t] : tensors) {
    std::vector<float> f(t.bytes.size() / dtype_size(t.dtype));
    convert_to_f32(t.dtype, t.bytes.data(), f.data(), f.size());
    t.bytes.resize(f.size() * dtype_size(to));
    for (size_t i = 0; i < f.size(); ++i) {
      if (to == DType::F32) {
        std::memcpy(t.bytes.data() + 4 * i, &f[i], 4);
      } else {
        uint16_t h = to == DType::BF16 ? f32_to_bf16(f[i]) : f32_to_f16(f[i]);
        std::memcpy(t.bytes.data() + 2 * i, &h, 2);
      }
    }
    t.dtype = to;
  }
}

void CheckpointBuilder::write(const std::string& dir, int shards) const {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/config.json") << config.dump(2);
  std::vector<SafetensorsWriter> writers(static_cast<size_t>(shards));
  nlohmann::json weight_map = nlohmann::json::object();
  int i = 0;
  for (const auto& [name, t] : tensors) {
    const int s = i++ % shards;
    writers[s].add(name, t.dtype, t.shape, t.bytes.data(), t.bytes.size());
    weight_map[name] = "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
  }
  if (shards == 1) {
    writers[0].write(dir + "/model.safetensors");
    return;
  }
  for (int s = 0; s < shards; ++s)
    writers[s].write(dir + "/model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors");
  std::ofstream(dir + "/model.safetensors.index.json") << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", weight_map}}.dump(2);
}

}  // namespace mmfree::test
