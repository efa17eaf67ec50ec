// libFuzzer target: a Hugging Face config.json, read as part of a model directory whose
// model.safetensors is tiny_a's, then (when small) the model built from it.
#include <filesystem>

#include "format/hf_checkpoint.h"
#include "fuzz_input.h"
#include "model/model.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mmfree;
  namespace fs = std::filesystem;
  static const fs::path dir = [] {
    fs::path d = fs::path(fuzz::scratch_path("hf_config"));
    fs::create_directories(d);
    fs::remove(d / "model.safetensors");
    fs::create_symlink(MMFREE_SHARED_DIR "/fixtures/tiny_a/model.safetensors", d / "model.safetensors");
    return d;
  }();
  fuzz::write_scratch("hf_config/config.json", data, size);
  try {
    HfCheckpoint ck(dir.string());
    if (ck.config().parameter_count() > fuzz::kMaxFuzzParameters) return 0;
    DeviceOptions one_thread;
    one_thread.threads = 1;
    (void)Model::load(dir.string(), one_thread);
  } catch (const Error&) {
  }
  return 0;
}
