#pragma once
// UTF-8 checks shared by the tokenizers (input validation) and the streaming decoder (which must
// hold back a sequence split across byte-fallback tokens).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mmfree {

enum class Utf8Sequence { Complete, Incomplete, Invalid };

// Classifies the sequence starting at s[pos]: Complete (its length in *len), Incomplete (a valid
// start cut short by the end of s) or Invalid (*len = 1: the byte to replace or reject).
// Overlong forms, surrogates and code points above U+10FFFF are Invalid, as in the Unicode standard.
Utf8Sequence utf8_sequence(std::string_view s, size_t pos, size_t* len);

// Byte offset of the first byte that is not part of valid UTF-8, or npos when s is valid.
size_t utf8_error_offset(std::string_view s);

// Throws Error("<what> is not valid UTF-8 (byte N: 0xXX)") unless s is valid UTF-8.
void check_utf8(std::string_view s, const std::string& what);

// The code point of the complete sequence at s[pos] (s must be valid there); advances pos past it.
uint32_t utf8_next(std::string_view s, size_t* pos);

}  // namespace mmfree
