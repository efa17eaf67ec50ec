// The training BitLinear (a trainable matrix: float products on the backend) against the inference
// BitLinear and plain references of SPEC.md's straight-through formulas, at odd sizes, on every
// backend that trains.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "kernels/ternary_ref.h"
#include "backend/ref/ref_backend.h"
#include "model/bitlinear.h"

namespace mmfree {
namespace {

struct Case {
  int64_t n, in, out;
};

// A BitLinear to train, its parameters in an arena on one backend.
struct Trainee {
  std::unique_ptr<Backend> be;
  ParameterArena arena;
  BitLinear layer;
  Trainee(const std::string& device, const Case& c, const std::vector<float>& w, const std::vector<float>& norm,
          bool identity)
      : be(make_backend({device, 2, ""})), arena(*be, {{"w", {c.out, c.in}}, {"norm", {c.in}}}) {
    std::copy(w.begin(), w.end(), arena["w"].value.begin());
    std::copy(norm.begin(), norm.end(), arena["norm"].value.begin());
    layer = BitLinear(*be, arena["w"], {arena["norm"].value.data(), arena["norm"].grad.data()}, identity);
    layer.requantize(*be);
    be->reserve_training(c.n, c.in);
  }
  std::vector<float> forward(const std::vector<float>& x, int64_t n) {
    std::vector<float> y(static_cast<size_t>(n * layer.out_features()));
    layer.forward(*be, {.kind = BitLinearInput::Kind::Plain, .x = const_cast<float*>(x.data()), .ld = layer.in_features()},
                  n, y.data());
    return y;
  }
};

const char* const kTrainingBackends[] = {"ref", "cpu"};

class TrainBitLinearTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const Case c = GetParam();
    std::mt19937_64 rng(static_cast<uint64_t>(c.n * 1000 + c.in * 10 + c.out));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t k = 0; k < c.out * c.in; ++k) w_.push_back(0.05f * normal(rng));
    for (int64_t k = 0; k < c.in; ++k) norm_.push_back(1.0f + 0.3f * normal(rng));
    for (int64_t k = 0; k < c.n * c.in; ++k) x_.push_back(2.0f * normal(rng));
    for (int64_t k = 0; k < c.n * c.out; ++k) dy_.push_back(normal(rng));
  }

  void check_backward(const std::string& device);
  std::vector<float> w_, norm_, x_, dy_;
};

TensorView view(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v) {
  return TensorView{name, "test", DType::F32, shape, reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)};
}

TEST_P(TrainBitLinearTest, ForwardEqualsInferenceBitLinear) {
  const Case c = GetParam();
  RefBackend be;
  be.reserve(c.n, c.in);
  const PackedLinear packed(view("w", {c.out, c.in}, w_), view("norm", {c.in}, norm_));
  const BitLinear inference(be, packed, {packed.norm().data(), nullptr});
  std::vector<float> want(static_cast<size_t>(c.n * c.out));
  inference.forward(be, {.kind = BitLinearInput::Kind::Plain, .x = x_.data(), .ld = c.in}, c.n, want.data());  // ref memory is host memory
  for (const char* device : kTrainingBackends) {
    Trainee t(device, c, w_, norm_, false);
    EXPECT_EQ(t.forward(x_, c.n), want) << device;  // the float product of integer values is exact
  }
}

// u = x / sqrt(mean(x^2) + 1e-6) * w for one row, in double.
std::vector<double> rms_normed(const double* x, const double* w, int64_t k) {
  double ss = 0;
  for (int64_t i = 0; i < k; ++i) ss += x[i] * x[i];
  const double rstd = 1.0 / std::sqrt(ss / static_cast<double>(k) + 1e-6);
  std::vector<double> u(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) u[i] = x[i] * rstd * w[i];
  return u;
}

TEST_P(TrainBitLinearTest, StraightThroughBackward) {
  for (const char* device : kTrainingBackends) {
    SCOPED_TRACE(device);
    check_backward(device);
  }
}

void TrainBitLinearTest::check_backward(const std::string& device) {
  const Case c = GetParam();
  Trainee train(device, c, w_, norm_, false);
  std::vector<float> dx(static_cast<size_t>(c.n * c.in));
  train.layer.backward(*train.be, x_.data(), dy_.data(), c.n, dx.data(), false);
  const std::span<const float> dw = train.arena["w"].grad, dnorm = train.arena["norm"].grad;

  // Reference STE: dW = dy^T (q / s_x); du = dy (T / s_w).
  std::vector<int8_t> tern(static_cast<size_t>(c.out * c.in)), q(static_cast<size_t>(c.n * c.in));
  std::vector<float> s_x(static_cast<size_t>(c.n));
  const float s_w = ternarize_ref(w_.data(), c.out * c.in, tern.data());
  rmsnorm_quantize_ref(x_.data(), norm_.data(), c.n, c.in, q.data(), s_x.data());
  for (int64_t o = 0; o < c.out; ++o)
    for (int64_t i = 0; i < c.in; ++i) {
      double want = 0;
      for (int64_t t = 0; t < c.n; ++t) want += static_cast<double>(dy_[t * c.out + o]) * (q[t * c.in + i] / s_x[t]);
      EXPECT_NEAR(dw[o * c.in + i], want, 1e-5 * (1 + std::fabs(want))) << "dW[" << o << "][" << i << "]";
    }
  std::vector<double> du(static_cast<size_t>(c.n * c.in), 0.0);
  for (int64_t t = 0; t < c.n; ++t)
    for (int64_t i = 0; i < c.in; ++i)
      for (int64_t o = 0; o < c.out; ++o) du[t * c.in + i] += dy_[t * c.out + o] * (tern[o * c.in + i] / s_w);

  // The RMSNorm is the smooth part: dx and dnorm are the derivatives of sum(u(x, w) * du), taken
  // here by central differences in double.
  std::vector<double> xd(x_.begin(), x_.end()), wd(norm_.begin(), norm_.end());
  auto g = [&]() {
    double s = 0;
    for (int64_t t = 0; t < c.n; ++t) {
      auto u = rms_normed(xd.data() + t * c.in, wd.data(), c.in);
      for (int64_t i = 0; i < c.in; ++i) s += u[i] * du[t * c.in + i];
    }
    return s;
  };
  auto central = [&](double& v) {
    const double orig = v, h = 1e-5;
    v = orig + h;
    const double up = g();
    v = orig - h;
    const double down = g();
    v = orig;
    return (up - down) / (2 * h);
  };
  for (int64_t k = 0; k < c.n * c.in; ++k) {
    const double want = central(xd[k]);
    EXPECT_NEAR(dx[k], want, 1e-4 * (1 + std::fabs(want))) << "dx[" << k << "]";
  }
  for (int64_t i = 0; i < c.in; ++i) {
    const double want = central(wd[i]);
    EXPECT_NEAR(dnorm[i], want, 1e-4 * (1 + std::fabs(want))) << "dnorm[" << i << "]";
  }
}

TEST_P(TrainBitLinearTest, IdentityQuantizersAreAFloatLinearLayer) {
  const Case c = GetParam();
  std::vector<double> xd(x_.begin(), x_.end()), wd(norm_.begin(), norm_.end());
  for (const char* device : kTrainingBackends) {
    Trainee train(device, c, w_, norm_, true);
    const std::vector<float> y = train.forward(x_, c.n);
    for (int64_t t = 0; t < c.n; ++t) {
      auto u = rms_normed(xd.data() + t * c.in, wd.data(), c.in);
      for (int64_t o = 0; o < c.out; ++o) {
        double want = 0;
        for (int64_t i = 0; i < c.in; ++i) want += u[i] * w_[o * c.in + i];
        EXPECT_NEAR(y[t * c.out + o], want, 1e-5 * (1 + std::fabs(want))) << device;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, TrainBitLinearTest,
                         ::testing::Values(Case{1, 37, 5}, Case{7, 13, 11}, Case{33, 64, 130}, Case{5, 300, 17}),
                         [](const auto& info) {
                           const Case& c = info.param;
                           char name[64];
                           std::snprintf(name, sizeof name, "n%ld_in%ld_out%ld", static_cast<long>(c.n),
                                         static_cast<long>(c.in), static_cast<long>(c.out));
                           return std::string(name);
                         });

}  // namespace
}  // namespace mmfree
