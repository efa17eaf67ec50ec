// libFuzzer target: a SentencePiece tokenizer.model (protobuf), loaded and used.
#include "fuzz_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mmfree::fuzz::exercise_tokenizer(mmfree::TokenizerKind::SentencePiece, data, size);
  return 0;
}
