#pragma once
// The machine's fp32 peak, measured, for quoting training throughput as a share of it.
#include <cstdint>
#include <string>

namespace mmfree {

struct PeakMeasurement {
  double gflops = 0;           // by the wall clock
  double gflops_cpu_time = 0;  // by CPU time x threads: what the threads reach while they hold a core
  std::string how;             // e.g. "AVX-512 FMA loop, 2 threads"
};

// Peaks are the best of `reps` runs: other work on the machine can only slow a run down. On a
// shared machine the wall-clock figures fall with the load; the CPU-time ones hardly do.

// CPU time of the whole process (every thread), in seconds.
double process_cpu_seconds();

// Independent fused multiply-adds at the widest vector width this CPU runs (AVX-512, else AVX2,
// else scalar), on `threads` threads: the arithmetic ceiling no kernel can pass.
PeakMeasurement fma_peak(int threads, int reps);

// OpenBLAS sgemm of two n x n matrices, through blas::gemm on `threads` threads (as the cpu backend calls it).
PeakMeasurement sgemm_peak(int64_t n, int reps, int threads);

}  // namespace mmfree
