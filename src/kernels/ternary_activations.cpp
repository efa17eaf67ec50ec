#include "kernels/ternary_activations.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "kernels/ternary_layout.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace mmfree {
namespace {

using namespace layout;

// TQ1_0, for one 256-weight block: the element each of the 5 x 64 prepared bytes takes (-1: none,
// the byte stays zero).
constexpr std::array<int16_t, kTq1Planes * kPlaneBytes> tq1_gather() {
  std::array<int16_t, kTq1Planes * kPlaneBytes> g{};
  for (auto& e : g) e = -1;
  for (int n = 0; n < kTq1Planes; ++n)
    for (int s = 0; s < kTq1CodeBytes; ++s) g[n * kPlaneBytes + tq1_plane_pos(s)] = static_cast<int16_t>(tq1_element(s, n));
  return g;
}
constexpr auto kTq1Gather = tq1_gather();

void prepare_row(TernaryFormat f, const int8_t* q, int64_t k, int8_t* out, int32_t* sum) {
  int32_t s = 0;
  for (int64_t i = 0; i < k; ++i) s += q[i];
  *sum = s;
  const int64_t bytes = prepared_row_bytes(f, k);
  if (f == TernaryFormat::I8) {
    std::memcpy(out, q, static_cast<size_t>(k));
    std::memset(out + k, 0, static_cast<size_t>(bytes - k));
    return;
  }
  if (f == TernaryFormat::TQ2_0 || f == TernaryFormat::TQ2_0_R8) {  // a permutation of 32-byte runs: plane l, half j <- elements j*128 + l*32 ...
    for (int64_t b = 0; b < k / kBlockWeights; ++b)
      for (int l = 0; l < kTq2Planes; ++l)
        for (int j = 0; j < 2; ++j)
          std::memcpy(out + b * kBlockWeights + l * kPlaneBytes + j * 32, q + b * kBlockWeights + tq2_element(j * 32, l), 32);
    return;
  }
  const int64_t block_bytes = int64_t{kTq1Planes} * kPlaneBytes;
  for (int64_t b = 0; b < k / kBlockWeights; ++b) {
    const int8_t* src = q + b * kBlockWeights;
    int8_t* dst = out + b * block_bytes;
    for (int64_t i = 0; i < block_bytes; ++i) dst[i] = kTq1Gather[i] < 0 ? int8_t{0} : src[kTq1Gather[i]];
  }
}

}  // namespace

int64_t prepared_row_bytes(TernaryFormat f, int64_t k) {
  switch (f) {
    case TernaryFormat::I8: return (k + kPlaneBytes - 1) / kPlaneBytes * kPlaneBytes;
    case TernaryFormat::TQ2_0:
    case TernaryFormat::TQ2_0_R8: return (k + kBlockWeights - 1) / kBlockWeights * kTq2Planes * kPlaneBytes;
    case TernaryFormat::TQ1_0: return (k + kBlockWeights - 1) / kBlockWeights * kTq1Planes * kPlaneBytes;
  }
  return 0;
}

void ActivationBuffer::reserve(int64_t rows, int64_t max_cols) {
  int64_t row_bytes = 0;
  for (TernaryFormat f : {TernaryFormat::I8, TernaryFormat::TQ2_0, TernaryFormat::TQ1_0})
    row_bytes = std::max(row_bytes, prepared_row_bytes(f, max_cols));
  data_.resize(static_cast<size_t>(rows * row_bytes));
  sums_.resize(static_cast<size_t>(rows));
}

PreparedActivations ActivationBuffer::prepare(TernaryFormat f, const int8_t* q, int64_t rows, int64_t cols,
                                              ThreadPool* pool) {
  // No message is built unless a check fails: this runs for every layer of every token.
  if (!format_fits(f, cols))
    throw Error(std::string("activations: format ") + format_name(f) + " cannot take rows of " + std::to_string(cols));
  const int64_t stride = prepared_row_bytes(f, cols);
  if (static_cast<size_t>(rows * stride) > data_.size() || static_cast<size_t>(rows) > sums_.size())
    throw Error("internal: activation buffer too small for " + std::to_string(rows) + " rows of " + std::to_string(cols));
  int8_t* data = data_.data();
  int32_t* sums = sums_.data();
  auto rows_job = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) prepare_row(f, q + r * cols, cols, data + r * stride, sums + r);
  };
  if (pool) pool->parallel_for(rows, 16, rows_job);
  else rows_job(0, rows);
  return PreparedActivations{f, data, sums, rows, cols, stride};
}

}  // namespace mmfree
