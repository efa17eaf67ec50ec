#include "util/utf8.h"

#include <cstdio>

#include "util/error.h"

namespace mmfree {

Utf8Sequence utf8_sequence(std::string_view s, size_t pos, size_t* len) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(pos);
  *len = 1;
  if (b0 < 0x80) return Utf8Sequence::Complete;
  size_t n = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte (rules out overlongs and surrogates)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return Utf8Sequence::Invalid;
  }
  for (size_t i = 1; i < n; ++i) {
    if (pos + i >= s.size()) return Utf8Sequence::Incomplete;
    const uint8_t b = byte(pos + i);
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return Utf8Sequence::Invalid;
  }
  *len = n;
  return Utf8Sequence::Complete;
}

size_t utf8_error_offset(std::string_view s) {
  size_t pos = 0, len = 0;
  while (pos < s.size()) {
    if (utf8_sequence(s, pos, &len) != Utf8Sequence::Complete) return pos;
    pos += len;
  }
  return std::string_view::npos;
}

void check_utf8(std::string_view s, const std::string& what) {
  const size_t at = utf8_error_offset(s);
  if (at == std::string_view::npos) return;
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<uint8_t>(s[at])));
  throw Error(what + " is not valid UTF-8 (byte " + std::to_string(at) + ": " + hex + ")");
}

uint32_t utf8_next(std::string_view s, size_t* pos) {
  const uint8_t b0 = static_cast<uint8_t>(s[*pos]);
  const size_t n = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  uint32_t cp = n == 1 ? b0 : b0 & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<uint8_t>(s[*pos + i]) & 0x3F);
  *pos += n;
  return cp;
}

}  // namespace mmfree
