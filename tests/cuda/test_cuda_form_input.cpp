// form_input (train_kernels.cu), the BitLinear input a training step recomputes, for every kind:
// against the plain formulas on the host (SPEC.md), and, for rows that take the 16-byte path, against
// the scalar kernel that rows without 16-byte alignment take (the same inputs at an odd stride).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "backend/cuda/train_kernels.h"
#include "cuda_test_util.h"

namespace mmfree::cuda::test {
namespace {

constexpr float kEps = 1e-6f;

struct Inputs {
  std::vector<float> x, add, h, w;  // x, add, h: n rows at stride ld (Glu: 2k wide)
};
struct Formed {
  std::vector<float> m, x, keep_x;  // m dense [n][k]; x after the residual add; keep_x dense
};

// The host's formulas: x += add (Norm), keep_x = x, rmsnorm (rstd from the double sum of squares in
// column order), silu(h) * normed (Gated), silu(a) * b (Glu), a copy (Plain).
Formed on_host(FormKind kind, const Inputs& in, int64_t n, int64_t k, int64_t ld, bool with_add) {
  Formed f{std::vector<float>(static_cast<size_t>(n * k)), in.x, std::vector<float>(static_cast<size_t>(n * k))};
  const auto silu = [](float v) { return v / (1.0f + std::exp(-v)); };
  for (int64_t r = 0; r < n; ++r) {
    float* xr = f.x.data() + r * ld;
    if (kind == FormKind::Glu) {
      for (int64_t c = 0; c < k; ++c) f.m[r * k + c] = silu(xr[c]) * xr[k + c];
      continue;
    }
    if (kind == FormKind::Plain) {
      std::copy_n(xr, k, f.m.data() + r * k);
      continue;
    }
    if (with_add)
      for (int64_t c = 0; c < k; ++c) xr[c] += in.add[r * ld + c];
    std::copy_n(xr, k, f.keep_x.data() + r * k);
    double ss = 0;
    for (int64_t c = 0; c < k; ++c) ss += static_cast<double>(xr[c]) * xr[c];
    const float rstd = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(k)) + kEps);
    for (int64_t c = 0; c < k; ++c) {
      const float v = xr[c] * rstd * in.w[c];
      f.m[r * k + c] = kind == FormKind::Gated ? silu(in.h[r * ld + c]) * v : v;
    }
  }
  return f;
}

// The same rows laid out at stride ld on the device.
Formed on_device(FormKind kind, const Inputs& in, int64_t n, int64_t k, int64_t ld, bool with_add) {
  auto xd = to_device(in.x);
  const auto ad = to_device(in.add), hd = to_device(in.h), wd = to_device(in.w);
  DeviceBuffer<float> m(n * k), keep(n * k);
  m.fill_bytes(0xa5);
  keep.fill_bytes(0xa5);
  Stream s;
  const bool norm = kind == FormKind::Norm;
  form_input(kind, xd.data(), ld, norm && with_add ? ad.data() : nullptr, hd.data(), wd.data(), kEps, n, k, m.data(),
             norm ? keep.data() : nullptr, s.get());
  s.synchronize();
  return {to_host(m), to_host(xd), to_host(keep)};
}

// Inputs of n rows at stride ld whose first k (Glu: 2k) columns are those of `dense` at stride ld0.
Inputs restride(const Inputs& dense, int64_t n, int64_t width, int64_t ld0, int64_t ld) {
  Inputs out{std::vector<float>(static_cast<size_t>(n * ld)), std::vector<float>(static_cast<size_t>(n * ld)),
             std::vector<float>(static_cast<size_t>(n * ld)), dense.w};
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < width; ++c) {
      out.x[r * ld + c] = dense.x[r * ld0 + c];
      out.add[r * ld + c] = dense.add[r * ld0 + c];
      out.h[r * ld + c] = dense.h[r * ld0 + c];
    }
  return out;
}

using CudaFormInput = CudaTest;

// Plain and the residual add are exact; Norm equals the host bit for bit unless a row's float rstd
// rounds otherwise (its double sum added in another order moves it by ~k 2^-53 relative: a chance
// of ~1e-9 a row; bound: 1 row a case). Glu and Gated apply CUDA's expf (within 2 ulp,
// 2^-22 relative, of the host's): with the three roundings after it that can then differ by an ulp
// each, |m - host| <= (2^-22 + 3 2^-23) |host| < 2^-20 |host|. Against the scalar kernel, the same
// operations on the same device: Plain and Glu bit for bit, Norm and Gated bit for bit unless rstd
// rounds otherwise (bound 1 row).
TEST_F(CudaFormInput, RowsMatchTheHostAndTheScalarKernel) {
  const int64_t n = 37;
  for (FormKind kind : {FormKind::Plain, FormKind::Norm, FormKind::Gated, FormKind::Glu})
    for (int64_t k : {1000, 2048, 5632, 8192})
      for (bool with_add : {false, true}) {
        if (with_add && kind != FormKind::Norm) continue;
        SCOPED_TRACE(testing::Message() << "kind " << static_cast<int>(kind) << " k " << k << (with_add ? " add" : ""));
        const int64_t width = kind == FormKind::Glu ? 2 * k : k, ld = width + 4;  // 16-byte rows, not dense
        const auto seed = static_cast<uint32_t>(k + 10 * static_cast<int>(kind));
        const Inputs in{randn(n * ld, seed, 2.0f), randn(n * ld, seed + 1), randn(n * ld, seed + 2, 2.0f),
                        randn(k, seed + 3, 0.7f)};
        const Formed want = on_host(kind, in, n, k, ld, with_add);
        const Formed got = on_device(kind, in, n, k, ld, with_add);
        const Formed scalar = on_device(kind, restride(in, n, width, ld, ld + 1), n, k, ld + 1, with_add);
        EXPECT_EQ(got.x, want.x) << "x after the residual add";
        if (kind == FormKind::Norm) {
          EXPECT_EQ(got.keep_x, want.keep_x) << "keep_x";
        }
        const bool exp_used = kind == FormKind::Glu || kind == FormKind::Gated;
        int64_t rows_off_host = 0, rows_off_scalar = 0;
        double worst = 0;  // |m - host| / |host| where they differ
        for (int64_t r = 0; r < n; ++r) {
          const size_t b = static_cast<size_t>(r * k), bytes = static_cast<size_t>(k) * sizeof(float);
          rows_off_scalar += std::memcmp(got.m.data() + b, scalar.m.data() + b, bytes) != 0;
          if (std::memcmp(got.m.data() + b, want.m.data() + b, bytes) == 0) continue;
          ++rows_off_host;
          for (size_t i = b; i < b + static_cast<size_t>(k); ++i)
            if (got.m[i] != want.m[i]) worst = std::max(worst, std::fabs(double(got.m[i]) - want.m[i]) / std::fabs(double(want.m[i])));
        }
        std::printf("form_input kind %d k %lld%s: rows differing from the host %lld (worst %.2g relative), from the scalar kernel %lld\n",
                    static_cast<int>(kind), static_cast<long long>(k), with_add ? " add" : "",
                    static_cast<long long>(rows_off_host), worst, static_cast<long long>(rows_off_scalar));
        if (exp_used) {
          EXPECT_LE(worst, std::ldexp(1.0, -20));
        } else {
          EXPECT_LE(rows_off_host, kind == FormKind::Norm ? 1 : 0);
        }
        EXPECT_LE(rows_off_scalar, kind == FormKind::Norm || kind == FormKind::Gated ? 1 : 0);
      }
}

}  // namespace
}  // namespace mmfree::cuda::test
