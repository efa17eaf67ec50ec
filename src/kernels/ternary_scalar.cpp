// The portable kernels: plain loops over the same prepared activations as the SIMD ones.
#include "kernels/ternary_kernels.h"
#include "kernels/ternary_layout.h"

namespace mmfree::kernels {
namespace {

using namespace layout;

int32_t tq2_row_dot(const uint8_t* w, const int8_t* x, int64_t blocks) {
  int32_t acc = 0;
  for (int64_t b = 0; b < blocks; ++b, w += kTq2BlockBytes, x += kTq2Planes * kPlaneBytes)
    for (int l = 0; l < kTq2Planes; ++l)
      for (int s = 0; s < kPlaneBytes; ++s) acc += ((w[s] >> (2 * l)) & 3) * x[l * kPlaneBytes + s];
  return acc;
}

int32_t tq1_row_dot(const uint8_t* w, const int8_t* x, int64_t blocks) {
  int32_t acc = 0;
  for (int64_t b = 0; b < blocks; ++b, w += kTq1BlockBytes, x += kTq1Planes * kPlaneBytes)
    for (int n = 0; n < kTq1Planes; ++n)
      for (int s = 0; s < kTq1CodeBytes; ++s) acc += tq1_digit(w[s], n) * x[n * kPlaneBytes + tq1_plane_pos(s)];
  return acc;
}

int32_t i8_row_dot(const uint8_t* w, const int8_t* x, int64_t k) {
  int32_t acc = 0;
  for (int64_t i = 0; i < k; ++i) acc += (static_cast<int8_t>(w[i]) + 1) * x[i];
  return acc;
}

template <int32_t (*RowDot)(const uint8_t*, const int8_t*, int64_t), bool kBlocks>
void rows(const MatmulJob& j, int64_t r0, int64_t r1) {
  const int64_t len = kBlocks ? j.k / kBlockWeights : j.k;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t t = 0; t < j.n; ++t) store_result(j, r, t, RowDot(j.w + r * j.w_row_bytes, j.x + t * j.x_stride, len));
}

}  // namespace

const KernelSet kScalarKernels = {rows<i8_row_dot, false>, rows<tq2_row_dot, true>, rows<tq1_row_dot, true>};

}  // namespace mmfree::kernels
