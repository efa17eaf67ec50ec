#pragma once
// Failures of a chat template: one message naming the line (and column, when parsing) and what is
// wrong. RaisedError is the template's own raise_exception(message), which the server answers
// with that message.
#include <string>

#include "util/error.h"

namespace mmfree::jinja {

struct Error : mmfree::Error {
  Error(int line, const std::string& detail)
      : mmfree::Error(line > 0 ? "line " + std::to_string(line) + ": " + detail : detail), line(line), detail(detail) {}
  explicit Error(const std::string& detail) : Error(0, detail) {}
  int line;            // 0: not known yet (the renderer adds the line of the statement it ran)
  std::string detail;  // the message without the line
};

struct RaisedError : mmfree::Error {
  using mmfree::Error::Error;
};

}  // namespace mmfree::jinja
