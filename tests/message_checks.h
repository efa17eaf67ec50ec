#pragma once
// Checks on error messages: every bad input must be named in one clear message.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace mmfree::test {

// Passes when `message` holds every one of `parts`; on failure shows the whole message.
inline ::testing::AssertionResult has_all(const std::string& message, std::initializer_list<std::string> parts) {
  for (const auto& p : parts)
    if (message.find(p) == std::string::npos)
      return ::testing::AssertionFailure() << "message \"" << message << "\" lacks \"" << p << "\"";
  return ::testing::AssertionSuccess();
}

}  // namespace mmfree::test
