#include "eval/pytext.h"

#include <cctype>

#include "util/utf8.h"

namespace mmfree::eval::py {
namespace {

bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

// Start of the code point that ends at byte e (exclusive).
size_t start_before(std::string_view s, size_t e) {
  size_t i = e - 1;
  while (i > 0 && is_continuation(static_cast<unsigned char>(s[i]))) --i;
  return i;
}

}  // namespace

bool isspace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string_view rstrip(std::string_view s) {
  size_t e = s.size();
  while (e > 0) {
    size_t b = start_before(s, e), at = b;
    if (!isspace(utf8_next(s, &at))) break;
    e = b;
  }
  return s.substr(0, e);
}

std::string_view strip(std::string_view s) {
  s = rstrip(s);
  size_t b = 0;
  for (size_t at = 0; b < s.size() && isspace(utf8_next(s, &at));) b = at;
  return s.substr(b);
}

int64_t len(std::string_view s) {
  int64_t n = 0;
  for (char ch : s) n += !is_continuation(static_cast<unsigned char>(ch));
  return n;
}

int64_t split_ws_count(std::string_view s) {
  int64_t runs = 0;
  bool in_run = false;
  for (size_t i = 0; i < s.size();) {
    const bool ws = isspace(utf8_next(s, &i));
    runs += ws && !in_run;
    in_run = ws;
  }
  return runs + 1;
}

std::string capitalize(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c < 0x80) out[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));
  }
  return out;
}

}  // namespace mmfree::eval::py
