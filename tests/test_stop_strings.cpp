// Stop strings: never printed, not even in part, and generation ends at the first one.
#include <gtest/gtest.h>

#include "generate/stop_strings.h"
#include "util/error.h"

namespace mmfree {
namespace {

TEST(StopStrings, HoldsBackAPossibleStartThenStops) {
  StopStrings s({"world"});
  EXPECT_EQ(s.push("Hel"), "Hel");
  EXPECT_EQ(s.push("lo wor"), "lo ");
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push("ld and more"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.push("x"), "");
  EXPECT_EQ(s.finish(), "");
}

TEST(StopStrings, ReleasesWhatTurnsOutNotToStop) {
  StopStrings s({"\n\n", "END"});
  EXPECT_EQ(s.push("a\n"), "a");
  EXPECT_EQ(s.push("b E"), "\nb ");
  EXPECT_EQ(s.push("N"), "");
  EXPECT_EQ(s.finish(), "EN");
  EXPECT_FALSE(s.stopped());
}

TEST(StopStrings, EarliestStopWins) {
  StopStrings s({"cd", "b"});
  EXPECT_EQ(s.push("abcd"), "a");
  EXPECT_TRUE(s.stopped());
}

TEST(StopStrings, EmptyStopIsAnError) {
  try {
    StopStrings s({"ok", ""});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--stop: a stop string must not be empty");
  }
}

}  // namespace
}  // namespace mmfree
