#pragma once
// Shared by the two tokenizer targets: load from the fuzzed bytes, then use what loaded.
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace mmfree::fuzz {

inline void exercise_tokenizer(TokenizerKind kind, const uint8_t* data, size_t size) {
  try {
    auto t = load_tokenizer_from_bytes(kind, std::string(as_text(data, size)), {}, "fuzz");
    for (bool special : {false, true}) {
      const auto ids = t->encode("Hello <s> wörld </s>\n\t 123 ✓ <unk>", {true, true, special});
      (void)t->decode(ids);
    }
    std::vector<int32_t> all;
    for (int32_t id = 0; id < t->vocab_size() && id < 512; ++id) {
      all.push_back(id);
      (void)t->piece(id);
      (void)t->token_bytes(id);
    }
    (void)t->decode(all);
  } catch (const Error&) {
  }
}

}  // namespace mmfree::fuzz
