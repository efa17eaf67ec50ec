#include "train/shuffle.h"

#include <utility>

namespace mmfree {

namespace {
// SplitMix64's finaliser: spreads nearby (seed, stream) pairs over unrelated generator seeds.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

std::mt19937_64 seeded_generator(uint64_t seed, uint64_t stream) {
  return std::mt19937_64(mix64(mix64(seed) + 0x9e3779b97f4a7c15ULL * (stream + 1)));
}

uint64_t uniform_below(std::mt19937_64& g, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // values >= limit would bias the modulo
  uint64_t x;
  do x = g(); while (x >= limit);
  return x % n;
}

void shuffle_in_place(std::vector<int64_t>& v, std::mt19937_64& g) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[uniform_below(g, i)]);
}

}  // namespace mmfree
