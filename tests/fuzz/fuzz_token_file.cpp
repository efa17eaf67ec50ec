// libFuzzer target: a prepared token file (train.bin / val.bin).
#include <vector>

#include "fuzz_input.h"
#include "train/token_file.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mmfree;
  try {
    TokenFile f(fuzz::write_scratch("train.bin", data, size));
    std::vector<int32_t> ids(static_cast<size_t>(f.size()));  // at most size / 2 tokens
    f.read(0, f.size(), ids.data());
    for (int32_t id : ids)
      if (id < 0 || id >= f.info().vocab_size) __builtin_trap();  // the loader promises every id < vocab
  } catch (const Error&) {
  }
  return 0;
}
