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

}  // namespace mmfree
