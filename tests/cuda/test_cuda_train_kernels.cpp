// Training's small conversion kernels against host references: the codes a backward GEMM reads,
// decoded from the mma16 layout, equal the ternary matrix packed on the host (pack_mma), and dy's
// conversion to bf16 rounds as the host's f32_to_bf16 (to nearest, ties to even) at every length
// and alignment its vector path and tail split.
#include <gtest/gtest.h>

#include <cuda_bf16.h>

#include <cstring>
#include <limits>

#include "backend/cuda/mma_layout.h"
#include "backend/cuda/train_kernels.h"
#include "cuda_test_util.h"
#include "util/half.h"

namespace mmfree::cuda::test {
namespace {

using CudaTrainKernels = CudaTest;

uint16_t bits(__nv_bfloat16 v) {
  uint16_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

TEST_F(CudaTrainKernels, CodesDecodedFromTheMmaLayoutEqualTheMatrix) {
  // Partial row tiles (37, 2816 % 16 = 0 but 300 % 16 = 12), partial column units (200, 1000), rows
  // that are no whole number of 16-byte stores (203, 36: the kernel's scalar tail).
  const std::pair<int64_t, int64_t> shapes[] = {{37, 200}, {16, 128}, {300, 1000}, {2816, 1024}, {45, 203}, {3, 36}};
  constexpr int64_t kGuard = 64;  // values past the matrix that must stay unwritten
  Stream s;
  for (const auto& [rows, cols] : shapes) {
    const auto t = random_ternary(rows * cols, static_cast<uint32_t>(rows * 7 + cols));
    std::vector<uint8_t> packed(static_cast<size_t>(mma_bytes(rows, cols)));
    pack_mma(t.data(), rows, cols, packed.data());
    DeviceBuffer<uint8_t> mma = to_device(packed);
    DeviceBuffer<float> f(rows * cols + kGuard);
    DeviceBuffer<__nv_bfloat16> h(rows * cols + kGuard);
    f.fill_bytes(0xa5);  // every value must be written
    h.fill_bytes(0xa5);
    codes_from_mma(mma.data(), rows, cols, f.data(), s.get());
    codes_from_mma(mma.data(), rows, cols, h.data(), s.get());
    s.synchronize();
    const auto fh = to_host(f);
    const auto hh = to_host(h);
    int64_t wrong = 0;
    for (int64_t i = 0; i < rows * cols; ++i)
      wrong += fh[i] != static_cast<float>(t[i]) || bits(hh[i]) != f32_to_bf16(static_cast<float>(t[i]));
    int64_t past = 0;
    for (int64_t i = rows * cols; i < rows * cols + kGuard; ++i) {
      uint32_t fb;
      std::memcpy(&fb, &fh[i], sizeof fb);
      past += fb != 0xa5a5a5a5u || bits(hh[i]) != 0xa5a5u;
    }
    EXPECT_EQ(wrong, 0) << rows << " x " << cols;
    EXPECT_EQ(past, 0) << rows << " x " << cols << ": values written past the matrix";
  }
}

TEST_F(CudaTrainKernels, Bf16ConversionRoundsAsTheHost) {
  // Values that round up, down and to even at bf16's last bit, infinities, the largest finite float.
  std::vector<float> x = randn(4099, 3, 10.0f);
  const uint32_t patterns[] = {0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u, 0x7f7fffffu};
  for (size_t j = 0; j < std::size(patterns); ++j) std::memcpy(&x[j * 7], &patterns[j], 4);
  x[100] = std::numeric_limits<float>::infinity();
  x[101] = -std::numeric_limits<float>::infinity();
  DeviceBuffer<float> dx = to_device(x);
  DeviceBuffer<__nv_bfloat16> dy(static_cast<int64_t>(x.size()));
  Stream s;
  // Offsets 0 and 8 take the 16-byte path (with and without a tail), 1 and 3 the scalar one.
  for (int64_t off : {0, 1, 3, 8})
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{4087}}) {
      dy.fill_bytes(0xa5);
      to_bf16(dx.data() + off, n, dy.data() + off, s.get());
      s.synchronize();
      const auto y = to_host(dy);
      int64_t wrong = 0;
      for (int64_t i = 0; i < n; ++i) wrong += bits(y[off + i]) != f32_to_bf16(x[off + i]);
      EXPECT_EQ(wrong, 0) << "offset " << off << ", " << n << " values";
      EXPECT_EQ(bits(y[off + n]), 0xa5a5) << "wrote past the end: offset " << off << ", " << n << " values";
    }
}

}  // namespace
}  // namespace mmfree::cuda::test
