// libFuzzer target: the GGUF container, then the model and tokenizer inside it.
#include "format/gguf.h"
#include "format/model_gguf.h"
#include "fuzz_input.h"
#include "model/model.h"
#include "tokenizer/tokenizer_gguf.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mmfree;
  const std::string path = fuzz::write_scratch("in.gguf", data, size);
  try {
    GgufFile f(path);
    if (gguf_has_tokenizer(f)) (void)tokenizer_from_gguf(f);
    if (!f.find(gguf_key::kArchitecture)) return 0;
    ModelGguf m(path);
    if (m.config().parameter_count() > fuzz::kMaxFuzzParameters) return 0;
    DeviceOptions one_thread;
    one_thread.threads = 1;
    (void)Model::load(path, one_thread);
  } catch (const Error&) {
  }
  return 0;
}
