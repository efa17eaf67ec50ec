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

// The most memory a run on a small or bad input may take: 300 MB (issue 16). Under
// AddressSanitizer the same run carries shadow memory and a quarantine of freed blocks.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr long kMaxRunRssKb = 1024 * 1024;
#else
inline constexpr long kMaxRunRssKb = 300 * 1024;
#endif

// How every bad input must be answered (issue 16): exit 1 with no signal, one line
// "mmfree: error: ..." holding every one of `parts`, within seconds and under 300 MB.
inline ::testing::AssertionResult clean_failure(const CommandResult& r, std::initializer_list<std::string> parts) {
  auto fail = [&] {
    return ::testing::AssertionFailure() << "exit " << r.exit_code << ", signal " << r.signal << ", " << r.seconds
                                         << " s, " << r.max_rss_kb / 1024 << " MB, stderr \"" << r.err << "\": ";
  };
  if (r.exit_code != 1 || r.signal != 0) return fail() << "expected exit 1";
  // Progress lines may come first (e.g. "resuming ..."); the error is the last line, and the only one.
  const size_t start = r.err.rfind('\n', r.err.size() >= 2 ? r.err.size() - 2 : 0);
  const std::string last = r.err.substr(start == std::string::npos ? 0 : start + 1);
  if (last.rfind("mmfree: error: ", 0) != 0 || last.back() != '\n' || r.err.find("mmfree: error: ") != r.err.size() - last.size())
    return fail() << "expected one last line 'mmfree: error: ...'";
  if (r.max_rss_kb > kMaxRunRssKb) return fail() << "used over " << kMaxRunRssKb / 1024 << " MB";
  if (r.seconds > 30) return fail() << "took over 30 s";
  return has_all(r.err, parts);
}

}  // namespace mmfree::test
