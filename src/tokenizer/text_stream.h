#pragma once
// Turns token ids into text one token at a time, as generation produces them, without decoding
// the whole sequence again: a character split across byte-fallback tokens (an emoji is four
// <0xNN> tokens) is held back until complete, and bytes that can never form UTF-8 become U+FFFD,
// so what comes out is always valid UTF-8.
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace mmfree {

class TextStream {
 public:
  // at_text_start: the tokens begin the text, so the space the encoder prepended is dropped
  // (false when they continue a prompt).
  TextStream(const Tokenizer& tok, bool at_text_start);
  // Adds one token (an id inside the vocabulary); returns the text completed by it, valid until
  // the next call.
  std::string_view push(int32_t id);
  // Ends the stream: an unfinished character becomes U+FFFD.
  std::string_view finish();

 private:
  std::string_view drain(bool final);

  const Tokenizer& tok_;
  int strip_;  // leading spaces still to drop
  std::string pending_, ready_;
};

}  // namespace mmfree
