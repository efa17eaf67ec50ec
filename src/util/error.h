#pragma once
// One exception type for every user-facing failure: the CLI prints what() and exits non-zero.
#include <stdexcept>
#include <string>

namespace mmfree {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws Error(msg) unless cond holds. For input validation, not for internal invariants.
inline void check(bool cond, const std::string& msg) {
  if (!cond) throw Error(msg);
}

}  // namespace mmfree
