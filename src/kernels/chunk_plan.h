#pragma once
// How one parallel product is cut into chunks of rows that the threads take in turn.
#include <cstdint>

namespace mmfree {

constexpr int kMaxChunks = 64;

struct ChunkPlan {
  int count = 0;
  int64_t end[kMaxChunks];  // chunk c is rows [c ? end[c - 1] : 0, end[c])
};

// Guided: each chunk a 1/(2 * threads) share of the rows still left, so that the first chunks are
// long weight streams (a new stream takes a while to reach full speed) and the last ones short,
// and the threads finish together instead of one waiting out the other's last long chunk
// (measured on the 2.7B decode: 3-4% faster than 8 equal chunks per thread). No chunk but the last
// holds under min_bytes of weights (bytes: of all rows); all end on multiples of 16 rows (every
// kernel's row tile divides 16, so chunks never split a TQ2_0_R8 group). rows: a multiple of 16.
ChunkPlan plan_chunks(int64_t rows, int64_t bytes, int threads, int64_t min_bytes);

}  // namespace mmfree
