#pragma once
// Sizes read from files are multiplied before anything is allocated; a product that wraps would
// pass every later size check and under-allocate. These refuse instead of wrapping.
#include <cstdint>
#include <optional>
#include <span>

namespace mmfree {

// a * b, or nullopt when it does not fit in uint64_t.
inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// The product of non-negative dimensions times elem_size (bytes), or nullopt when a dimension is
// negative or the product leaves int64_t. Zero dimensions count as 1 in that test, so that an
// empty tensor cannot carry a shape whose other dimensions multiply past int64_t either.
inline std::optional<int64_t> checked_numel(std::span<const int64_t> dims, uint64_t elem_size = 1) {
  uint64_t n = elem_size;
  bool empty = false;
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    empty |= d == 0;
    auto m = checked_mul(n, d == 0 ? 1 : static_cast<uint64_t>(d));
    if (!m || *m > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    n = *m;
  }
  return empty ? 0 : static_cast<int64_t>(n);
}

}  // namespace mmfree
