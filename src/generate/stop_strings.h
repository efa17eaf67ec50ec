#pragma once
// Stop strings for streamed generation: text is passed on as soon as it cannot be the start of a
// stop string, so that a stop string is never printed, even in part, and generation ends where
// one first appears.
#include <string>
#include <string_view>
#include <vector>

namespace mmfree {

class StopStrings {
 public:
  explicit StopStrings(std::vector<std::string> stops);  // each non-empty (Error otherwise)
  // Adds generated text; returns what may be printed now (valid until the next call). Once a
  // stop string is complete, stopped() is true and the text returned ends just before it.
  std::string_view push(std::string_view text);
  // At the end of generation without a stop: the text held back.
  std::string_view finish();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_, ready_;
  bool stopped_ = false;
};

}  // namespace mmfree
