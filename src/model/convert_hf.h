#pragma once
// mmfree convert: a Hugging Face checkpoint to one model file (format/model_gguf.h). BitLinear
// weights are ternarised exactly as Model does when it loads the directory, so the file gives the
// directory's logits.
#include <string>

#include "format/hf_checkpoint.h"
#include "format/model_gguf_writer.h"

namespace mmfree {

// The checkpoint directory's tokenizer, when it has one, is embedded too.
void convert_hf_to_gguf(const HfCheckpoint& ck, const std::string& out, ModelFileOptions o);

}  // namespace mmfree
