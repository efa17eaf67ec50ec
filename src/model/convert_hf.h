#pragma once
// mmfree convert: a Hugging Face checkpoint to one model file (format/model_gguf.h). BitLinear
// weights are ternarised exactly as Model does when it loads the directory, so the file gives the
// directory's logits. A converted file can be written again in another layout or embedding type.
#include <string>

#include "format/hf_checkpoint.h"
#include "format/model_gguf.h"
#include "format/model_gguf_writer.h"

namespace mmfree {

// The checkpoint directory's tokenizer, when it has one, is embedded too.
void convert_hf_to_gguf(const HfCheckpoint& ck, const std::string& out, ModelFileOptions o);

// A .gguf model file written again (e.g. tq2_0 -> tq2_0_r8, or other embeddings): the same ternary
// weights and exact scales, norms, name and tokenizer; only the storage changes. `in` and `out` must differ.
void convert_gguf_to_gguf(const ModelGguf& in, const std::string& out, ModelFileOptions o);

}  // namespace mmfree
