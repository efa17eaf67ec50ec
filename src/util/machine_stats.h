#pragma once
// What benchmarks report about the machine and the process: memory read bandwidth, peak RSS.
#include <cstddef>
#include <cstdint>

namespace mmfree {

// GB/s of `threads` threads streaming reads through a buffer of `bytes` (much larger than the
// caches): the best of `passes` passes of each of two read loops. The buffer is allocated and
// freed inside.
double measure_read_bandwidth_gbs(int threads, size_t bytes, int passes);

int64_t peak_rss_bytes();  // the high-water mark of this process's resident memory (getrusage)

// The size of the largest cache the CPU reports (L3, else L2), in bytes; 0 when it reports none.
// Data that fits in it can be read from cache, so the memory roofline does not bound that work.
int64_t last_level_cache_bytes();

}  // namespace mmfree
