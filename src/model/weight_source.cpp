#include "model/weight_source.h"

#include <filesystem>

#include "util/error.h"

namespace mmfree {

std::shared_ptr<const WeightSource> open_weight_source(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    check(fs::exists(fs::path(path) / "config.json", ec),
          path + ": not a model: a model directory holds config.json (Hugging Face layout); a converted model is a .gguf file");
    return open_hf_weights(path);
  }
  check(fs::exists(path, ec), path + ": no such file or directory");
  return open_gguf_weights(path);
}

}  // namespace mmfree
