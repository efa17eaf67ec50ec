// The portable kernels: plain loops over the same prepared activations as the SIMD ones. Each
// weight block is decoded once into codes laid out like the activations (plane after plane), then
// multiplied with up to kTokens tokens.
#include <cstring>

#include "kernels/ternary_kernels.h"
#include "kernels/ternary_layout.h"

namespace mmfree::kernels {
namespace {

using namespace layout;

constexpr int kTokens = 16;
constexpr int kMaxBlockBytes = kTq1Planes * kPlaneBytes;  // the largest decoded block (TQ1_0)

struct Tq2 {
  static constexpr int kWeights = kBlockWeights, kBytes = kTq2BlockBytes, kCodes = kTq2Planes * kPlaneBytes;
  static void decode(const uint8_t* w, int, uint8_t* codes) {
    for (int l = 0; l < kTq2Planes; ++l)
      for (int s = 0; s < kPlaneBytes; ++s) codes[l * kPlaneBytes + s] = static_cast<uint8_t>((w[s] >> (2 * l)) & 3);
  }
};

struct Tq2R8 : Tq2 {
  static constexpr int kBytes = kPlaneBytes;
};

struct Tq1 {
  static constexpr int kWeights = kBlockWeights, kBytes = kTq1BlockBytes, kCodes = kTq1Planes * kPlaneBytes;
  static void decode(const uint8_t* w, int, uint8_t* codes) {
    std::memset(codes, 0, kCodes);  // positions without a weight meet zero activations anyway
    for (int n = 0; n < kTq1Planes; ++n)
      for (int s = 0; s < kTq1CodeBytes; ++s) codes[n * kPlaneBytes + tq1_plane_pos(s)] = static_cast<uint8_t>(tq1_digit(w[s], n));
  }
};

struct I8 {
  static constexpr int kWeights = kI8BlockWeights, kBytes = kI8BlockWeights, kCodes = kPlaneBytes;
  static void decode(const uint8_t* w, int valid, uint8_t* codes) {
    for (int i = 0; i < kPlaneBytes; ++i) codes[i] = i < valid ? static_cast<uint8_t>(static_cast<int8_t>(w[i]) + 1) : 0;
  }
};

int32_t dot(const uint8_t* codes, const int8_t* x, int len) {
  int32_t s = 0;
  for (int i = 0; i < len; ++i) s += codes[i] * x[i];
  return s;
}

template <class F>
void rows(const MatmulJob& j, int64_t r0, int64_t r1) {
  const int64_t blocks = (j.k + F::kWeights - 1) / F::kWeights;  // I8: the last block may be partial
  uint8_t codes[kMaxBlockBytes];
  for (int64_t r = r0; r < r1; ++r) {
    const RowWalk w = row_walk(j, r, F::kBytes);
    for (int64_t t0 = 0; t0 < j.n; t0 += kTokens) {
      const int tokens = static_cast<int>(j.n - t0 < kTokens ? j.n - t0 : kTokens);
      int32_t acc[kTokens] = {};
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t left = j.k - b * F::kWeights;
        F::decode(w.base + b * w.block_step, static_cast<int>(left < F::kWeights ? left : F::kWeights), codes);
        for (int t = 0; t < tokens; ++t) acc[t] += dot(codes, j.x + (t0 + t) * j.x_stride + b * F::kCodes, F::kCodes);
      }
      for (int t = 0; t < tokens; ++t) store_result(j, r, t0 + t, acc[t]);
    }
  }
}

}  // namespace

const KernelSet kScalarKernels = {rows<I8>, rows<Tq2>, rows<Tq1>, rows<Tq2R8>, 1};

}  // namespace mmfree::kernels
