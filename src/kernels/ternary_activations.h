#pragma once
// int8 activations rearranged into the order a weight format's kernels read them: 64-byte planes
// that line up byte for byte with decoded weight planes (ternary_layout.h), zero where no weight
// is, plus each row's sum (the kernels multiply unsigned codes weight + 1 and subtract it).
#include <cstdint>

#include "kernels/ternary_format.h"
#include "util/aligned_buffer.h"

namespace mmfree {

class ThreadPool;

struct PreparedActivations {
  TernaryFormat format = TernaryFormat::I8;
  const int8_t* data = nullptr;   // rows x stride bytes, 64-byte aligned
  const int32_t* sums = nullptr;  // rows
  int64_t rows = 0, cols = 0, stride = 0;
};

// Bytes of one prepared row of k activations for format f (a multiple of 64).
int64_t prepared_row_bytes(TernaryFormat f, int64_t k);

// Owns the buffers; sized once (reserve), then prepare() allocates nothing.
class ActivationBuffer {
 public:
  // Room for `rows` rows of up to max_cols activations in any format.
  void reserve(int64_t rows, int64_t max_cols);
  // Lays out q [rows][cols] for format f. pool may be null (single thread).
  PreparedActivations prepare(TernaryFormat f, const int8_t* q, int64_t rows, int64_t cols, ThreadPool* pool = nullptr);

 private:
  AlignedBuffer<int8_t> data_;
  AlignedBuffer<int32_t> sums_;
};

}  // namespace mmfree
