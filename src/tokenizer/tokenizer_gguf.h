#pragma once
// A tokenizer embedded in a .gguf model file, so one file is the whole model. The tokenizer's own
// file goes in as base64 (mmfree.tokenizer.*), which rebuilds it exactly; BOS/EOS also go in under
// the standard tokenizer.ggml.* keys.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "format/gguf.h"
#include "tokenizer/tokenizer.h"

namespace mmfree {

std::vector<std::pair<std::string, GgufValue>> tokenizer_gguf_metadata(const Tokenizer& t);
bool gguf_has_tokenizer(const GgufFile& f);
std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& f);  // throws Error naming the file if absent

}  // namespace mmfree
