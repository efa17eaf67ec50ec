// libFuzzer target: the safetensors header and every tensor's conversion.
#include "format/safetensors.h"
#include "fuzz_input.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mmfree;
  try {
    SafetensorsFile f(fuzz::write_scratch("in.safetensors", data, size));
    for (const auto& [name, t] : f.tensors()) {
      (void)t.shape_str();
      if (dtype_is_float(t.dtype))
        (void)t.to_f32();
      else
        (void)t.to_i64();
    }
  } catch (const Error&) {
  }
  return 0;
}
