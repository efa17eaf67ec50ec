// libFuzzer target: a training checkpoint, opened and restored into a model of its config.
#include "fuzz_input.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/trainable_model.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mmfree;
  try {
    Checkpoint ck(fuzz::write_scratch("checkpoint.safetensors", data, size));
    const ModelConfig& c = ck.meta().config;
    if (c.parameter_count() > fuzz::kMaxFuzzParameters) return 0;
    TrainableModel m = TrainableModel::random_init(c, 1);
    AdamW opt(m.arena(), AdamWOptions{});
    ck.restore(c, m.params(), &opt);
  } catch (const Error&) {
  }
  return 0;
}
