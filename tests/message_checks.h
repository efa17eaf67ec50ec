#pragma once
// Checks on error messages: every bad input must be named in one clear message.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "test_util.h"

namespace mmfree::test {

// Passes when `message` holds every one of `parts`; on failure shows the whole message.
inline ::testing::AssertionResult has_all(const std::string& message, std::initializer_list<std::string> parts) {
  for (const auto& p : parts)
    if (message.find(p) == std::string::npos)
      return ::testing::AssertionFailure() << "message \"" << message << "\" lacks \"" << p << "\"";
  return ::testing::AssertionSuccess();
}

// How every bad input must be answered (issue 16): exit 1 with no signal, one line
// "mmfree: error: ..." holding every one of `parts`, within seconds and under 300 MB.
inline ::testing::AssertionResult clean_failure(const CommandResult& r, std::initializer_list<std::string> parts) {
  auto fail = [&] {
    return ::testing::AssertionFailure() << "exit " << r.exit_code << ", signal " << r.signal << ", " << r.seconds
                                         << " s, " << r.max_rss_kb / 1024 << " MB, stderr \"" << r.err << "\": ";
  };
  if (r.exit_code != 1 || r.signal != 0) return fail() << "expected exit 1";
  if (r.err.rfind("mmfree: error: ", 0) != 0 || r.err.find('\n') != r.err.size() - 1)
    return fail() << "expected one line 'mmfree: error: ...'";
  if (r.max_rss_kb > 300 * 1024) return fail() << "used over 300 MB";
  if (r.seconds > 30) return fail() << "took over 30 s";
  return has_all(r.err, parts);
}

}  // namespace mmfree::test
