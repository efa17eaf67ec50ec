// UTF-8 classification against the Unicode standard's table of well-formed byte sequences.
#include <gtest/gtest.h>

#include "util/utf8.h"

namespace mmfree {
namespace {

Utf8Sequence kind(std::string_view s, size_t* len) { return utf8_sequence(s, 0, len); }

TEST(Utf8, WellFormedBoundaries) {
  size_t len = 0;
  for (std::string_view s : {"\x7F", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
                             "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_EQ(kind(s, &len), Utf8Sequence::Complete) << s.size();
    EXPECT_EQ(len, s.size());
  }
}

TEST(Utf8, IllFormed) {
  size_t len = 0;
  // Lone continuation, C0/C1 (overlong lead), F5+, overlong 3/4-byte, surrogates, above U+10FFFF,
  // and a lead byte followed by a non-continuation.
  for (std::string_view s : {"\x80", "\xC0\xAF", "\xC1\xBF", "\xF5\x80\x80\x80", "\xFF", "\xE0\x9F\xBF",
                             "\xF0\x8F\xBF\xBF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xC3\x41"}) {
    EXPECT_EQ(kind(s, &len), Utf8Sequence::Invalid) << int(static_cast<uint8_t>(s[0]));
    EXPECT_EQ(len, 1u);
  }
}

TEST(Utf8, CutShort) {
  size_t len = 0;
  for (std::string_view s : {"\xC3", "\xE2\x82", "\xF0\x9F\xA6"}) EXPECT_EQ(kind(s, &len), Utf8Sequence::Incomplete);
  EXPECT_EQ(utf8_error_offset("ab\xF0\x9F\xA6"), 2u);  // for validation, cut short is an error
  EXPECT_EQ(utf8_error_offset("caf\xC3\xA9 \xF0\x9F\xA6\x99"), std::string_view::npos);
}

TEST(Utf8, NextCodePoint) {
  const std::string_view s = "a\xC3\xA9\xE2\x96\x81\xF0\x9F\xA6\x99";
  size_t pos = 0;
  EXPECT_EQ(utf8_next(s, &pos), 0x61u);
  EXPECT_EQ(utf8_next(s, &pos), 0xE9u);
  EXPECT_EQ(utf8_next(s, &pos), 0x2581u);
  EXPECT_EQ(utf8_next(s, &pos), 0x1F999u);
  EXPECT_EQ(pos, s.size());
}

}  // namespace
}  // namespace mmfree
