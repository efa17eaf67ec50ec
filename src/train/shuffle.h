#pragma once
// Seeded shuffling whose result is fixed by the C++ standard (std::mt19937_64 is specified bit for bit;
// std::uniform_int_distribution and std::shuffle are not), so a seed means the same order everywhere.
#include <cstdint>
#include <random>
#include <vector>

namespace mmfree {

// A generator for stream `stream` of seed `seed` (e.g. one per epoch).
std::mt19937_64 seeded_generator(uint64_t seed, uint64_t stream);
// Uniform in [0, n), n > 0, by rejection (no modulo bias).
uint64_t uniform_below(std::mt19937_64& g, uint64_t n);
// Fisher-Yates shuffle of v.
void shuffle_in_place(std::vector<int64_t>& v, std::mt19937_64& g);

}  // namespace mmfree
