#pragma once
// Shared by the tests of the quantising row passes: device outputs of up to four quantisation
// targets, the CPU's quantisation of the same rows (rmsnorm_quantize_ref), and the comparison that
// allows for CUDA's expf where sigmoid or SiLU formed the rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "backend/cuda/elementwise.h"
#include "backend/cuda/mma_layout.h"
#include "cuda_test_util.h"
#include "kernels/ternary_ref.h"

namespace mmfree::cuda::test {

// Device outputs of `count` quantisation targets of n rows of k (with dequantized: q / s_x in bf16 too).
struct Targets {
  int64_t n, k, stride;
  std::vector<std::vector<float>> w;
  std::vector<DeviceBuffer<float>> d_w, scale;
  std::vector<DeviceBuffer<int8_t>> q;
  std::vector<DeviceBuffer<int32_t>> sums;
  std::vector<DeviceBuffer<uint16_t>> dq;  // bf16 bits
  Targets(int64_t n_, int64_t k_, int count, uint32_t seed, bool dequantized = false)
      : n(n_), k(k_), stride(padded_cols(k_) + 16) {
    for (int j = 0; j < count; ++j) {
      w.push_back(randn(k, seed + j));
      d_w.push_back(to_device(w.back()));
      scale.emplace_back(n);
      q.emplace_back(n * stride);
      q.back().fill_bytes(0x55);  // junk in the padding must be replaced by zeros
      sums.emplace_back(n);
      if (dequantized) {
        dq.emplace_back(n * k);
        dq.back().fill_bytes(0xff);  // NaN where nothing was written
      }
    }
  }
  // The targets' outputs from row r0 on.
  std::vector<QuantTarget> views(int64_t r0 = 0) {
    std::vector<QuantTarget> v;
    for (size_t j = 0; j < w.size(); ++j)
      v.push_back({d_w[j].data(), q[j].data() + r0 * stride, scale[j].data() + r0, sums[j].data() + r0,
                   dq.empty() ? nullptr : reinterpret_cast<__nv_bfloat16*>(dq[j].data()) + r0 * k});
    return v;
  }
};

// Quantisation of m [n][k] by target j on the CPU (rmsnorm_quantize_ref), as padded rows.
struct Quantised {
  std::vector<int8_t> q;  // [n][stride]
  std::vector<float> scale;
  std::vector<int32_t> sums;
};
inline Quantised cpu_quantise(const std::vector<float>& m, const std::vector<float>& w, int64_t n, int64_t k, int64_t stride) {
  std::vector<int8_t> dense(static_cast<size_t>(n * k));
  Quantised r{std::vector<int8_t>(static_cast<size_t>(n * stride), 0), std::vector<float>(static_cast<size_t>(n)),
              std::vector<int32_t>(static_cast<size_t>(n), 0)};
  rmsnorm_quantize_ref(m.data(), w.data(), n, k, dense.data(), r.scale.data());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < k; ++c) {
      r.q[t * stride + c] = dense[t * k + c];
      r.sums[t] += dense[t * k + c];
    }
  return r;
}

// Differences of a quantisation from the CPU's when its input m carries a few ulp of exp's error.
struct QuantDiff {
  int max_code_diff = 0;
  int64_t codes_differing = 0, codes = 0;
  double max_scale_rel = 0;
};
inline QuantDiff compare(Targets& tg, size_t j, const Quantised& want) {
  QuantDiff d;
  const auto q = to_host(tg.q[j]);
  const auto sc = to_host(tg.scale[j]);
  const auto sums = to_host(tg.sums[j]);
  for (int64_t t = 0; t < tg.n; ++t) {
    int32_t sum = 0;
    for (int64_t c = 0; c < tg.stride; ++c) {
      const int diff = std::abs(q[t * tg.stride + c] - want.q[t * tg.stride + c]);
      d.max_code_diff = std::max(d.max_code_diff, diff);
      d.codes_differing += diff != 0;
      sum += q[t * tg.stride + c];
    }
    EXPECT_EQ(sums[t], sum) << "row " << t << ": sums must be those of the codes written";
    d.max_scale_rel = std::max(d.max_scale_rel, std::fabs(double(sc[t]) - want.scale[t]) / want.scale[t]);
  }
  d.codes = tg.n * tg.k;
  return d;
}

// exp within 2 + 1 ulp makes silu and m within ~4 ulp (5e-7 relative), so s_x (127 / amax) and each
// value before rounding (at most 127.5) move by ~1e-6 relative: a code changes only within 1.3e-4 of
// a rounding tie, about 3e-4 of the codes. Bounds: codes differ by at most 1, in at most 0.5% of the
// codes; s_x within 4e-6 relative.
inline void expect_within_exp_bounds(const QuantDiff& d, const char* what) {
  std::printf("%s: max code diff %d, %lld of %lld codes differ, max s_x rel diff %.2e\n", what, d.max_code_diff,
              static_cast<long long>(d.codes_differing), static_cast<long long>(d.codes), d.max_scale_rel);
  EXPECT_LE(d.max_code_diff, 1) << what;
  EXPECT_LE(static_cast<double>(d.codes_differing), 0.005 * static_cast<double>(d.codes)) << what;
  EXPECT_LE(d.max_scale_rel, 4e-6) << what;
}

}  // namespace mmfree::cuda::test
