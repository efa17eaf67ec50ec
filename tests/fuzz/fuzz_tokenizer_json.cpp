// libFuzzer target: a Hugging Face tokenizer.json, loaded and used.
#include "fuzz_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mmfree::fuzz::exercise_tokenizer(mmfree::TokenizerKind::HuggingFace, data, size);
  return 0;
}
