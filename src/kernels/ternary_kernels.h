#pragma once
// Internal: the per-instruction-set kernel tables behind ternary_matmul. The SIMD tables live in
// files compiled with their own -m flags (isa_flags.cmake); this header holds only plain data so
// that no inline function is compiled with wide instructions in one file and shared with another.
#include <cstdint>

#include "kernels/ternary_layout.h"

namespace mmfree::kernels {

// One product, as plain numbers: out[t][o] = sum_i W[o][i] q[t][i] for every token t < n, over the
// rows o the kernel is given. Each kernel sums code * x with code = weight + 1 and subtracts x_sums[t].
struct MatmulJob {
  const uint8_t* w = nullptr;  // packed rows
  int64_t w_row_bytes = 0;     // code bytes per row
  bool w_r8 = false;           // TQ2_0_R8: rows interleaved in groups of 8 (ternary_layout.h)
  int64_t k = 0;               // weights per row
  const int8_t* x = nullptr;   // prepared activations (ternary_activations.h), 64-byte aligned
  int64_t x_stride = 0;
  const int32_t* x_sums = nullptr;
  int64_t n = 0;               // tokens
  int64_t ld = 0;              // row stride of the output (the matrix's row count)
  int32_t* acc = nullptr;      // either the integer sums ...
  float* y = nullptr;          // ... or y = float(sum) / (x_scale[t] * w_scale)
  const float* x_scale = nullptr;
  float w_scale = 1;
};

using RowsFn = void (*)(const MatmulJob& job, int64_t row_begin, int64_t row_end);

struct KernelSet {
  RowsFn i8, tq2_0, tq1_0, tq2_0_r8;
  int decode_streams;  // weight streams a TQ2_0_R8 decode reads per chunk (evenly spaced groups)
};

extern const KernelSet kScalarKernels;
#if defined(MMFREE_X86_KERNELS)
extern const KernelSet kAvx2Kernels;
extern const KernelSet kAvx512Kernels;
extern const KernelSet kAvx512VnniKernels;
#endif

// Where the blocks of rows [row, row + R) lie: block b of row row + i at base + i * row_step +
// b * block_step. For TQ2_0_R8 the R rows must share a group of 8: tiles start at multiples of R
// and R divides 8.
struct RowWalk {
  const uint8_t* base;
  int64_t row_step, block_step;
};
static inline RowWalk row_walk(const MatmulJob& j, int64_t row, int64_t block_bytes) {
  if (!j.w_r8) return {j.w + row * j.w_row_bytes, j.w_row_bytes, block_bytes};
  const int64_t row0 = layout::r8_group_start(row);
  return {j.w + row0 * j.w_row_bytes + (row - row0) * block_bytes, block_bytes,
          layout::r8_group_rows(row, j.ld) * block_bytes};
}

// Writes one finished sum (code sums minus the activation sum) where the job wants it. `static`:
// each file gets its own copy, compiled for its own instruction set.
static inline void store_result(const MatmulJob& job, int64_t row, int64_t t, int32_t code_sum) {
  const int32_t v = code_sum - job.x_sums[t];
  if (job.y) job.y[t * job.ld + row] = static_cast<float>(v) / (job.x_scale[t] * job.w_scale);
  else job.acc[t * job.ld + row] = v;
}

}  // namespace mmfree::kernels
