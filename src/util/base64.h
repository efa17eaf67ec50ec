#pragma once
// Base64 (RFC 4648, with padding): binary files (a SentencePiece model) kept in GGUF string metadata,
// which other tools read as UTF-8.
#include <string>
#include <string_view>

namespace mmfree {

std::string base64_encode(std::string_view bytes);
// Throws Error(what + ": ...") when the text is not base64.
std::string base64_decode(std::string_view text, const std::string& what);

}  // namespace mmfree
