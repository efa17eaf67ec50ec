// Kernels back to back on one stream, as a decode loop runs them (each may start before the one
// before it ends: programmatic dependent launch): every kernel must still see its predecessor's
// results. A BitLinear layer applied to the residual stream 30 times, against the CPU doing the same.
#include <gtest/gtest.h>

#include "backend/cuda/elementwise.h"
#include "backend/cuda/mma_layout.h"
#include "backend/cuda/ternary_product.h"
#include "cuda_test_util.h"
#include "kernels/ternary_ref.h"
#include "model/ops.h"

namespace mmfree::cuda::test {
namespace {

using CudaChain = CudaTest;

TEST_F(CudaChain, BackToBackKernelsSeeEachOthersResults) {
  const int64_t n = 3, d = 640, steps = 30;
  const float s_w = 1000.0f, eps = 1e-6f;
  const auto t = random_ternary(d * d, 1);
  auto x = randn(n * d, 2);
  const auto w_pre = randn(d, 3), w_norm = randn(d, 4);
  std::vector<float> y(static_cast<size_t>(n * d), 0.0f);

  std::vector<uint8_t> packed(static_cast<size_t>(mma_bytes(d, d)));
  pack_mma(t.data(), d, d, packed.data());
  DeviceBuffer<uint8_t> d_w = to_device(packed);
  DeviceBuffer<float> d_x = to_device(x), d_y = to_device(y), d_pre = to_device(w_pre), d_norm = to_device(w_norm);
  const int64_t stride = padded_cols(d);
  DeviceBuffer<int8_t> d_q(n * stride);
  DeviceBuffer<float> d_s(n);
  DeviceBuffer<int32_t> d_sums(n);
  const QuantTarget target[] = {{d_norm.data(), d_q.data(), d_s.data(), d_sums.data()}};
  const Product p{{d_w.data(), d, d}, {d_q.data(), stride, d_sums.data(), d_s.data(), n, d}, {nullptr, d_y.data(), d, s_w}};
  Stream s;
  for (int64_t i = 0; i < steps; ++i) {  // no host synchronisation inside the loop
    norm_quantize(d_x.data(), d_y.data(), d, d_pre.data(), eps, n, d, target, stride, s.get());
    ternary_product({&p, 1}, s.get());
  }
  s.synchronize();

  std::vector<float> m(static_cast<size_t>(n * d)), sx(static_cast<size_t>(n));
  std::vector<int8_t> q(static_cast<size_t>(n * d));
  std::vector<int32_t> acc(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < steps; ++i) {
    for (size_t e = 0; e < x.size(); ++e) x[e] = x[e] + y[e];
    rmsnorm_rows(x.data(), w_pre.data(), n, d, eps, m.data());
    rmsnorm_quantize_ref(m.data(), w_norm.data(), n, d, q.data(), sx.data());
    ternary_matmul_ref(t.data(), d, d, q.data(), n, acc.data());
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < d; ++o) y[r * d + o] = static_cast<float>(acc[r * d + o]) / (sx[r] * s_w);
  }
  EXPECT_EQ(to_host(d_x), x);
  EXPECT_EQ(to_host(d_y), y);
}

}  // namespace
}  // namespace mmfree::cuda::test
