// libFuzzer target: model.safetensors.index.json, read as part of a model directory holding
// tiny_a's config.json and model.safetensors.
#include <filesystem>

#include "format/hf_checkpoint.h"
#include "fuzz_input.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mmfree;
  namespace fs = std::filesystem;
  static const fs::path dir = [] {
    fs::path d = fs::path(fuzz::scratch_path("hf_index"));
    fs::create_directories(d);
    for (const char* name : {"config.json", "model.safetensors"}) {
      fs::remove(d / name);
      fs::create_symlink(fs::path(MMFREE_SHARED_DIR "/fixtures/tiny_a") / name, d / name);
    }
    return d;
  }();
  fuzz::write_scratch("hf_index/model.safetensors.index.json", data, size);
  try {
    HfCheckpoint ck(dir.string());
  } catch (const Error&) {
  }
  return 0;
}
