#include "model/weight_source.h"

#include <filesystem>

#include "format/hf_checkpoint.h"
#include "util/error.h"

namespace mmfree {

std::shared_ptr<const WeightSource> open_weight_source(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    check(is_hf_directory(path),
          path + ": not a model: a model directory holds config.json (Hugging Face layout); a converted model is a .gguf file");
    return open_hf_weights(path);
  }
  check(fs::exists(path, ec), path + ": no such file or directory");
  return open_gguf_weights(path);
}

}  // namespace mmfree
