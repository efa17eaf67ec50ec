#pragma once
// Small string helpers shared across the code base.
#include <string>
#include <string_view>

namespace mmfree {

// s with every occurrence of `from` (non-empty) replaced by `to`, left to right, in one pass.
inline std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t start = 0;
  for (size_t at = s.find(from); at != std::string_view::npos; at = s.find(from, start)) {
    out.append(s, start, at - start).append(to);
    start = at + from.size();
  }
  return out.append(s, start);
}

}  // namespace mmfree
