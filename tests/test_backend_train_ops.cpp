// The training ops of every backend that trains against the ref backend (test_backend_ops.cpp's
// harness and backend list), at odd shapes. Ops that the host backends run with the same row code
// on more threads must equal ref bit for bit; the float products (OpenBLAS in float against ref's
// double sums) and reductions split over threads stay within the bounds stated at each check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "backend/ref/ref_backend.h"
#include "backend_harness.h"
#include "test_util.h"
#include "util/half.h"

namespace mmfree {
namespace {

using test::BackendCase;
using test::get;
using test::normwise_error;
using test::put;
using test::randn;

class BackendTrainOps : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    if (!GetParam().skip_reason.empty()) GTEST_SKIP() << GetParam().name << ": " << GetParam().skip_reason;
    be_ = GetParam().make();
    try {
      be_->trainable_matrix(1, 1, false);
    } catch (const std::exception& e) {
      GTEST_SKIP() << e.what();
    }
  }
  void TearDown() override {
    if (be_ && !be_->host_memory())
      std::printf("[ metric ] %s values through exp: worst normwise error %.3g (bound %.0e)\n", GetParam().name.c_str(),
                  exp_worst_, kExpBound);
  }
  // Results that pass through exp (sigmoid, SiLU, softmax). The host backends run ref's code with
  // glibc's expf: equal bit for bit. A device's exp is its own: the CUDA backend's is CUDA's expf,
  // within 2 ulp of exp (glibc's within 1), and a value through it then moves a few ulps: normwise
  // bound kExpBound (about 8 ulps of the largest value). Measured on an H200 with a double exp (a
  // closer one): 4.3e-8 (mlgru_scan_backward), 1.6e-8 (gated, GLU), 4.7e-10 (cross-entropy gradients).
  static constexpr double kExpBound = 1e-6;
  void expect_through_exp(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
    if (be_->host_memory()) {
      EXPECT_EQ(got, want) << what;
      return;
    }
    const double e = normwise_error(got, want);
    exp_worst_ = std::max(exp_worst_, e);
    EXPECT_LE(e, kExpBound) << what;
  }
  RefBackend ref_;
  std::unique_ptr<Backend> be_;
  double exp_worst_ = 0;
};

struct MatrixShape {
  int64_t n, rows, cols;
};
const MatrixShape kMatrixShapes[] = {{1, 5, 37}, {7, 11, 13}, {33, 130, 64}, {100, 17, 300}, {5, 1030, 256}};

// A trainable matrix of latent weights on one backend, re-quantised, with its norm.
struct Trainable {
  std::unique_ptr<BackendMatrix> w;
  Buffer latent, norm;
  Trainable(Backend& be, const MatrixShape& s, bool identity, const std::vector<float>& latent_w,
            const std::vector<float>& norm_w)
      : w(be.trainable_matrix(s.rows, s.cols, identity)), latent(put(be, latent_w)), norm(put(be, norm_w)) {
    be.ternarize(*w, latent.as<float>());
    be.reserve_training(s.n, s.cols);
  }
};

TEST_P(BackendTrainOps, TrainableProductsMatchRef) {
  for (const MatrixShape& s : kMatrixShapes)
    for (bool identity : {false, true}) {
      const auto latent = randn(s.rows * s.cols, 1, 0.05f), norm = randn(s.cols, 2), x = randn(s.n * s.cols, 3, 2.0f);
      Trainable r(ref_, s, identity, latent, norm), b(*be_, s, identity, latent, norm);
      EXPECT_EQ(ref_.weight_scale(*r.w), be_->weight_scale(*b.w));
      std::vector<float> want(static_cast<size_t>(s.n * s.rows));
      std::vector<float> xr = x;
      const BitLinearCall rc{r.w.get(), r.norm.as<float>(), want.data()};
      ref_.bitlinear({&rc, 1}, {.kind = BitLinearInput::Kind::Plain, .x = xr.data(), .ld = s.cols}, s.n);
      Buffer xb = put(*be_, x), y = be_->alloc(s.n * s.rows * 4);
      const BitLinearCall bc{b.w.get(), b.norm.as<float>(), y.as<float>()};
      be_->bitlinear({&bc, 1}, {.kind = BitLinearInput::Kind::Plain, .x = xb.as<float>(), .ld = s.cols}, s.n);
      const auto got = get<float>(*be_, y, s.n * s.rows);
      if (!identity) {
        EXPECT_EQ(got, want) << s.n << "x" << s.rows << "x" << s.cols;  // exact integer sums, the same scaling
        continue;
      }
      // Identity: a float product of k terms against ref's double sums: k * 2^-24 relative, normwise.
      EXPECT_LE(normwise_error(got, want), static_cast<double>(s.cols) * 6e-8) << s.n << "x" << s.rows << "x" << s.cols;
    }
}

// The forward as training runs it: each input kind formed with keep_m (and keep_x for Norm) set,
// then the products of trainable matrices.
TEST_P(BackendTrainOps, KeptInputsMatchRef) {
  using Kind = BitLinearInput::Kind;
  const MatrixShape s{7, 11, 300};
  const int64_t ld = 2 * s.cols + 3;  // rows of x, add and h (the GLU reads 2 cols of x)
  for (Kind kind : {Kind::Plain, Kind::Norm, Kind::Gated, Kind::Glu})
    for (bool identity : {false, true}) {
      const std::string what = "kind " + std::to_string(static_cast<int>(kind)) + " identity " + std::to_string(identity);
      const auto latent = randn(s.rows * s.cols, 41, 0.05f), norm = randn(s.cols, 42), x = randn(s.n * ld, 43, 2.0f),
                 add = randn(s.n * ld, 44), h = randn(s.n * ld, 45), w = randn(s.cols, 46);
      Trainable r(ref_, s, identity, latent, norm), b(*be_, s, identity, latent, norm);
      const bool norm_kind = kind == Kind::Norm;
      std::vector<float> xr = x, addr = add, hr = h, wr = w;
      std::vector<float> want_y(static_cast<size_t>(s.n * s.rows)), want_m(static_cast<size_t>(s.n * s.cols)), want_kx = want_m;
      const BitLinearCall rc{r.w.get(), r.norm.as<float>(), want_y.data()};
      ref_.bitlinear({&rc, 1}, {.kind = kind, .x = xr.data(), .ld = ld, .add = norm_kind ? addr.data() : nullptr,
                                .h = hr.data(), .w = wr.data(), .keep_m = want_m.data(),
                                .keep_x = norm_kind ? want_kx.data() : nullptr}, s.n);
      Buffer xb = put(*be_, x), yb = be_->alloc(s.n * s.rows * 4), mb = be_->alloc(s.n * s.cols * 4),
             kxb = be_->alloc(s.n * s.cols * 4);
      const Buffer addb = put(*be_, add), hb = put(*be_, h), wb = put(*be_, w);
      const BitLinearCall bc{b.w.get(), b.norm.as<float>(), yb.as<float>()};
      be_->bitlinear({&bc, 1}, {.kind = kind, .x = xb.as<float>(), .ld = ld, .add = norm_kind ? addb.as<float>() : nullptr,
                                .h = hb.as<float>(), .w = wb.as<float>(), .keep_m = mb.as<float>(),
                                .keep_x = norm_kind ? kxb.as<float>() : nullptr}, s.n);
      EXPECT_EQ(get<float>(*be_, xb, s.n * ld), xr) << what;  // the residual add: one exact addition
      if (norm_kind) {
        EXPECT_EQ(get<float>(*be_, kxb, s.n * s.cols), want_kx) << what;
      }
      const auto got_m = get<float>(*be_, mb, s.n * s.cols), got_y = get<float>(*be_, yb, s.n * s.rows);
      const bool through_exp = kind == Kind::Gated || kind == Kind::Glu;
      // SiLU uses each backend's own exp (the cpu backend's vectorised one too, test_backend_ops.cpp):
      // m within kExpBound normwise; the products are then checked only where m is ref's (an m one
      // ulp off can move an int8 code by one).
      if (through_exp) {
        EXPECT_LE(normwise_error(got_m, want_m), kExpBound) << what;
      } else {
        EXPECT_EQ(got_m, want_m) << what;
      }
      if (identity && !through_exp) {  // float products (see TrainableProductsMatchRef)
        EXPECT_LE(normwise_error(got_y, want_y), static_cast<double>(s.cols) * 6e-8) << what;
      } else if (!through_exp) {
        EXPECT_EQ(got_y, want_y) << what;  // exact integer sums of the same codes
      }
    }
}

TEST_P(BackendTrainOps, BitLinearBackwardMatchesRef) {
  double worst = 0;
  for (const MatrixShape& s : kMatrixShapes)
    for (bool identity : {false, true})
      for (bool accumulate : {false, true}) {
        const auto latent = randn(s.rows * s.cols, 4, 0.05f), norm = randn(s.cols, 5), m = randn(s.n * s.cols, 6, 2.0f);
        const auto dy = randn(s.n * s.rows, 7), dm0 = randn(s.n * s.cols, 8), dw0 = randn(s.rows * s.cols, 9),
                   dn0 = randn(s.cols, 10);
        Trainable r(ref_, s, identity, latent, norm), b(*be_, s, identity, latent, norm);
        std::vector<float> want_dm = dm0, want_dw = dw0, want_dn = dn0, mr = m, dyr = dy;
        ref_.bitlinear_backward({r.w.get(), r.norm.as<float>(), mr.data(), dyr.data(), s.n, want_dm.data(), accumulate,
                                 want_dw.data(), want_dn.data()});
        const Buffer mb = put(*be_, m), dyb = put(*be_, dy);
        Buffer dmb = put(*be_, dm0), dwb = put(*be_, dw0), dnb = put(*be_, dn0);
        be_->bitlinear_backward({b.w.get(), b.norm.as<float>(), mb.as<float>(), dyb.as<float>(), s.n, dmb.as<float>(),
                                 accumulate, dwb.as<float>(), dnb.as<float>()});
        const double e = std::max({normwise_error(get<float>(*be_, dmb, s.n * s.cols), want_dm),
                                   normwise_error(get<float>(*be_, dwb, s.rows * s.cols), want_dw),
                                   normwise_error(get<float>(*be_, dnb, s.cols), want_dn)});
        worst = std::max(worst, e);
        // Float sums of up to max(n, rows) <= 1030 terms against ref's double sums: 1030 * 2^-24 =
        // 6e-5 worst case, normwise; then the RMSNorm backward's own few roundings.
        EXPECT_LE(e, 1e-4) << s.n << "x" << s.rows << "x" << s.cols << " identity " << identity;
      }
  std::printf("[ metric ] %s bitlinear_backward worst normwise error %.3g (bound 1e-4)\n", GetParam().name.c_str(), worst);
}

// The GLU's [gate, v] projection with its dy named as the GLU's backward (BitLinearBackward::glu),
// against ref running glu_backward and then the backward on its output: the GLU goes through exp
// (kExpBound), then the sums as in BitLinearBackwardMatchesRef (1e-4).
TEST_P(BackendTrainOps, GluFormedDyMatchesRef) {
  for (const MatrixShape& s : {MatrixShape{7, 2 * 5, 13}, MatrixShape{33, 2 * 64, 64}, MatrixShape{100, 2 * 150, 300}}) {
    const int64_t I = s.rows / 2;
    const auto latent = randn(s.rows * s.cols, 21, 0.05f), norm = randn(s.cols, 22), m = randn(s.n * s.cols, 23, 2.0f);
    const auto gv = randn(s.n * s.rows, 24, 2.0f), dz = randn(s.n * I, 25), dm0 = randn(s.n * s.cols, 26),
               dw0 = randn(s.rows * s.cols, 27), dn0 = randn(s.cols, 28);
    Trainable r(ref_, s, false, latent, norm), b(*be_, s, false, latent, norm);
    std::vector<float> want_dm = dm0, want_dw = dw0, want_dn = dn0, mr = m, gvr = gv, dzr = dz, dgv(gv.size());
    ref_.glu_backward(gvr.data(), dzr.data(), s.n, I, dgv.data());
    ref_.bitlinear_backward({r.w.get(), r.norm.as<float>(), mr.data(), dgv.data(), s.n, want_dm.data(), false,
                             want_dw.data(), want_dn.data()});
    const Buffer mb = put(*be_, m), gvb = put(*be_, gv), dzb = put(*be_, dz);
    Buffer dmb = put(*be_, dm0), dwb = put(*be_, dw0), dnb = put(*be_, dn0), dgvb = be_->alloc(s.n * s.rows * 4);
    const GluBackward glu{.gv = gvb.as<float>(), .dz = dzb.as<float>(), .I = I, .dgv = dgvb.as<float>()};
    be_->bitlinear_backward({.w = b.w.get(), .norm = b.norm.as<float>(), .m = mb.as<float>(), .n = s.n, .dm = dmb.as<float>(),
                             .dw = dwb.as<float>(), .dnorm = dnb.as<float>(), .glu = &glu});
    const double e = std::max({normwise_error(get<float>(*be_, dmb, s.n * s.cols), want_dm),
                               normwise_error(get<float>(*be_, dwb, s.rows * s.cols), want_dw),
                               normwise_error(get<float>(*be_, dnb, s.cols), want_dn)});
    EXPECT_LE(e, 1e-4 + kExpBound) << s.n << "x" << s.rows << "x" << s.cols;
  }
}

TEST_P(BackendTrainOps, ElementwiseBackwardsEqualRef) {
  // The host backends run these with ref's row code on more threads: bit for bit, partial sums of
  // dw reduced in part order (within float rounding of ref's one pass). 2100 rows: parts of 9 rows,
  // which cycle the CUDA backend's streaming stages.
  for (int64_t n : {1, 7, 300, 2100})
    for (int64_t d : {5, 64, 1000}) {
      be_->reserve_training(n, 2 * d);
      ref_.reserve_training(n, 2 * d);
      const auto x = randn(n * d, 11, 3.0f), w = randn(d, 12), dy = randn(n * d, 13), dx0 = randn(n * d, 14),
                 dw0 = randn(d, 15), h = randn(n * d, 16);
      for (bool accumulate : {false, true}) {
        std::vector<float> want_dx = dx0, want_dw = dw0, xr = x, wr = w, dyr = dy;
        ref_.rmsnorm_backward(xr.data(), wr.data(), dyr.data(), n, d, 1e-6f, want_dx.data(), accumulate, want_dw.data());
        const Buffer xb = put(*be_, x), wb = put(*be_, w), dyb = put(*be_, dy);
        Buffer dxb = put(*be_, dx0), dwb = put(*be_, dw0);
        be_->rmsnorm_backward(xb.as<float>(), wb.as<float>(), dyb.as<float>(), n, d, 1e-6f, dxb.as<float>(), accumulate,
                              dwb.as<float>());
        EXPECT_EQ(get<float>(*be_, dxb, n * d), want_dx) << "rmsnorm_backward n=" << n << " d=" << d;
        EXPECT_LE(normwise_error(get<float>(*be_, dwb, d), want_dw), 4 * 6e-8 * n) << "rmsnorm dw n=" << n;
      }
      {  // gated
        std::vector<float> want_dh(x.size()), want_dg(x.size()), want_dw = dw0, hr = h, gr = x, wr = w, dmr = dy;
        ref_.gated_backward({hr.data(), gr.data(), wr.data(), dmr.data(), n, d, 1e-6f, want_dh.data(), want_dg.data(),
                             want_dw.data()});
        const Buffer hb = put(*be_, h), gb = put(*be_, x), wb = put(*be_, w), dmb = put(*be_, dy);
        Buffer dhb = be_->alloc(n * d * 4), dgb = be_->alloc(n * d * 4), dwb = put(*be_, dw0);
        be_->gated_backward({hb.as<float>(), gb.as<float>(), wb.as<float>(), dmb.as<float>(), n, d, 1e-6f,
                             dhb.as<float>(), dgb.as<float>(), dwb.as<float>()});
        const std::string at = " n=" + std::to_string(n) + " d=" + std::to_string(d);
        expect_through_exp(get<float>(*be_, dhb, n * d), want_dh, "gated dh" + at);
        expect_through_exp(get<float>(*be_, dgb, n * d), want_dg, "gated dg" + at);
        EXPECT_LE(normwise_error(get<float>(*be_, dwb, d), want_dw), 4 * 6e-8 * n) << "gated dw n=" << n;
      }
      {  // GLU: gv [n][2d]
        const auto gv = randn(n * 2 * d, 17, 2.0f);
        std::vector<float> want(static_cast<size_t>(n * 2 * d)), gvr = gv, dmr = dy;
        ref_.glu_backward(gvr.data(), dmr.data(), n, d, want.data());
        const Buffer gvb = put(*be_, gv), dmb = put(*be_, dy);
        Buffer out = be_->alloc(n * 2 * d * 4);
        be_->glu_backward(gvb.as<float>(), dmb.as<float>(), n, d, out.as<float>());
        expect_through_exp(get<float>(*be_, out, n * 2 * d), want, "glu n=" + std::to_string(n) + " d=" + std::to_string(d));
      }
    }
}

TEST_P(BackendTrainOps, MlgruScanBackwardEqualsRef) {
  for (int64_t d : {1, 17, 1000})
    for (int64_t B : {1, 3})
      for (int64_t T : {1, 9})
        for (bool with_lb : {false, true}) {
          const int64_t n = B * T;
          be_->reserve_training(n, d);
          ref_.reserve_training(n, d);
          const auto i = randn(n * d, 21), f = randn(n * d, 22, 2.0f), h = randn(n * d, 23), dh = randn(n * d, 24);
          const auto lb = randn(d, 25, 0.3f), dlb0 = randn(d, 26);
          std::vector<float> want_di(static_cast<size_t>(n * d)), want_df(want_di.size()), want_dlb = dlb0;
          std::vector<float> ir = i, fr = f, hr = h, dhr = dh, lbr = lb;
          ref_.mlgru_scan_backward({ir.data(), fr.data(), hr.data(), with_lb ? lbr.data() : nullptr, dhr.data(), B, T, d,
                                    want_di.data(), want_df.data(), with_lb ? want_dlb.data() : nullptr});
          const Buffer ib = put(*be_, i), fb = put(*be_, f), hb = put(*be_, h), dhb = put(*be_, dh), lbb = put(*be_, lb);
          Buffer dib = be_->alloc(n * d * 4), dfb = be_->alloc(n * d * 4), dlbb = put(*be_, dlb0);
          be_->mlgru_scan_backward({ib.as<float>(), fb.as<float>(), hb.as<float>(), with_lb ? lbb.as<float>() : nullptr,
                                    dhb.as<float>(), B, T, d, dib.as<float>(), dfb.as<float>(),
                                    with_lb ? dlbb.as<float>() : nullptr});
          // Channels are independent: each part owns a range of them, so the result is ref's (on the
          // host; through the device's exp elsewhere).
          const std::string at = " d=" + std::to_string(d) + " B=" + std::to_string(B) + " T=" + std::to_string(T);
          expect_through_exp(get<float>(*be_, dib, n * d), want_di, "di" + at);
          expect_through_exp(get<float>(*be_, dfb, n * d), want_df, "df" + at);
          expect_through_exp(get<float>(*be_, dlbb, d), want_dlb, "dlb" + at);
        }
}

TEST_P(BackendTrainOps, LossOptimizerAndEmbeddingMatchRef) {
  const int64_t n = 37, V = 1001, d = 19, rows = 50;
  const auto logits = randn(n * V, 31, 3.0f);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) labels[r] = r % 5 == 4 ? -1 : static_cast<int32_t>((r * 7919) % V);
  std::vector<float> want = logits;
  const double want_nll = ref_.cross_entropy(want.data(), labels.data(), n, V, 0.25f);
  Buffer lb = put(*be_, logits);
  const Buffer labb = put(*be_, labels);
  const double nll = be_->cross_entropy(lb.as<float>(), labb.as<int32_t>(), n, V, 0.25f);
  // Double partial sums in another order. Through a device's exp (within 3 ulp of glibc's), each
  // row's sum of terms moves by at most 3 * 2^-24 relative, its log-sum by as much: 30 labelled rows.
  const double exp_terms = be_->host_memory() ? 0 : 30 * 3 * 6e-8;
  EXPECT_NEAR(nll, want_nll, 1e-12 * want_nll + exp_terms);
  expect_through_exp(get<float>(*be_, lb, n * V), want, "cross_entropy gradient");  // each row alone: ref's code

  const std::vector<int32_t> tokens = {3, 0, 49, 3, 3, 17};
  const auto dx = randn(6 * d, 32), table0 = randn(rows * d, 33);
  std::vector<float> want_t = table0, dxr = dx;
  ref_.embed_backward(tokens.data(), dxr.data(), 6, d, want_t.data());
  const Buffer tb = put(*be_, tokens), dxb = put(*be_, dx);
  Buffer tab = put(*be_, table0);
  be_->embed_backward(tb.as<int32_t>(), dxb.as<float>(), 6, d, tab.as<float>());
  EXPECT_EQ(get<float>(*be_, tab, rows * d), want_t);

  const int64_t count = 300001;  // parts of the cpu backend's threads
  const auto p0 = randn(count, 34), g = randn(count, 35), m0 = randn(count, 36, 0.1f);
  auto v0 = randn(count, 37, 0.1f);
  for (auto& v : v0) v = v * v;
  // The backend applies a clipping coefficient as it reads g; ref gets the gradients scaled first.
  AdamWUpdate u{nullptr, nullptr, nullptr, nullptr, count, 0.999f, 1e-3f, 0.3f, 0.1f, 0.95f, 0.05f, 1e-8f, 0.37f};
  std::vector<float> pr = p0, gr = g, mr = m0, vr = v0;
  for (float& v : gr) v *= u.grad_scale;
  AdamWUpdate ur = u;
  ur.grad_scale = 1.0f;
  ur.p = pr.data(), ur.g = gr.data(), ur.m = mr.data(), ur.v = vr.data();
  ref_.adamw(ur);
  Buffer pb = put(*be_, p0), mb = put(*be_, m0), vb = put(*be_, v0);
  const Buffer gb = put(*be_, g);
  u.p = pb.as<float>(), u.g = gb.as<float>(), u.m = mb.as<float>(), u.v = vb.as<float>();
  be_->adamw(u);
  EXPECT_EQ(get<float>(*be_, pb, count), pr);
  EXPECT_EQ(get<float>(*be_, mb, count), mr);
  EXPECT_EQ(get<float>(*be_, vb, count), vr);

  const double want_sq = ref_.sum_squares(g.data(), count);
  EXPECT_NEAR(be_->sum_squares(gb.as<float>(), count), want_sq, 1e-12 * want_sq);
}

// The CUDA backend at a 370M model's shapes and a training batch's rows (its launches then take many
// blocks, its reductions many parts, cuBLAS its large tiles) against the cpu backend, whose products
// and row code are ref's (BackendTrainOps above) and which runs these sizes in seconds where ref
// would take minutes. Skipped without a GPU.
// How many elements differ (a failure's message stays short at these sizes).
int64_t count_differ(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return -1;
  int64_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
  return n;
}

// The CUDA backend with training's backward GEMMs in `gemm` precision, or a reason to skip.
std::unique_ptr<Backend> cuda_trainer(const std::string& gemm, std::string& skip) {
  try {
    auto gpu = make_backend(DeviceOptions{.device = "cuda", .threads = 0, .isa = "", .backward_gemm = gemm});
    gpu->trainable_matrix(1, 1, false);
    return gpu;
  } catch (const std::exception& e) {
    skip = e.what();
    return nullptr;
  }
}

TEST(CudaTrainOps, ModelShapesMatchCpu) {
  std::string skip;
  std::unique_ptr<Backend> gpu = cuda_trainer("fp32", skip);
  if (!gpu) GTEST_SKIP() << skip;
  auto cpu = make_backend(DeviceOptions{.device = "cpu", .threads = 0, .isa = ""});
  const int64_t n = 2048, d = 1024, I = 2816;  // 370M: d 1024, GLU width 2816
  cpu->reserve_training(n, I);
  gpu->reserve_training(n, I);
  {  // the GLU's down projection [d][I]: products exact, backward within float sums of up to I terms
    const MatrixShape s{n, d, I};
    const auto latent = randn(d * I, 51, 0.02f), norm = randn(I, 52), m = randn(n * I, 53, 2.0f), dy = randn(n * d, 54);
    Trainable c(*cpu, s, false, latent, norm), g(*gpu, s, false, latent, norm);
    EXPECT_EQ(cpu->weight_scale(*c.w), gpu->weight_scale(*g.w));
    const Buffer mc = put(*cpu, m), mg = put(*gpu, m), dyc = put(*cpu, dy), dyg = put(*gpu, dy);
    Buffer yc = cpu->alloc(n * d * 4), yg = gpu->alloc(n * d * 4);
    const BitLinearCall cc{c.w.get(), c.norm.as<float>(), yc.as<float>()}, gc{g.w.get(), g.norm.as<float>(), yg.as<float>()};
    cpu->bitlinear({&cc, 1}, {.kind = BitLinearInput::Kind::Plain, .x = mc.as<float>(), .ld = I}, n);
    gpu->bitlinear({&gc, 1}, {.kind = BitLinearInput::Kind::Plain, .x = mg.as<float>(), .ld = I}, n);
    EXPECT_EQ(count_differ(get<float>(*gpu, yg, n * d), get<float>(*cpu, yc, n * d)), 0);
    Buffer dmc = cpu->alloc(n * I * 4), dmg = gpu->alloc(n * I * 4), dwc = cpu->alloc(d * I * 4), dwg = gpu->alloc(d * I * 4),
           dnc = cpu->alloc(I * 4), dng = gpu->alloc(I * 4);
    cpu->bitlinear_backward({c.w.get(), c.norm.as<float>(), mc.as<float>(), dyc.as<float>(), n, dmc.as<float>(), false,
                             dwc.as<float>(), dnc.as<float>()});
    gpu->bitlinear_backward({g.w.get(), g.norm.as<float>(), mg.as<float>(), dyg.as<float>(), n, dmg.as<float>(), false,
                             dwg.as<float>(), dng.as<float>()});
    const double e = std::max({normwise_error(get<float>(*gpu, dmg, n * I), get<float>(*cpu, dmc, n * I)),
                               normwise_error(get<float>(*gpu, dwg, d * I), get<float>(*cpu, dwc, d * I)),
                               normwise_error(get<float>(*gpu, dng, I), get<float>(*cpu, dnc, I))});
    // Two float sums of up to n = 2048 rows (dw, dnorm) or d = 1024 outputs (du) in different orders:
    // 2 * 2048 * 2^-24 = 2.4e-4 worst case. Measured on an H200: 1.2e-6.
    std::printf("[ metric ] cuda vs cpu bitlinear_backward %ldx%ldx%ld normwise error %.3g (bound 2.4e-4)\n", static_cast<long>(n),
                static_cast<long>(d), static_cast<long>(I), e);
    EXPECT_LE(e, 2.4e-4);
  }
  {  // a batch of 8 x 2048 tokens: the MLGRU's backward over long sequences, embeddings, the loss
    const int64_t B = 8, T = 2048, rows = B * T, V = 32000;
    cpu->reserve_training(rows, d);
    gpu->reserve_training(rows, d);
    const auto i = randn(rows * d, 61), f = randn(rows * d, 62, 2.0f), h = randn(rows * d, 63), dh = randn(rows * d, 64);
    const auto lb = randn(d, 65, 0.3f);
    const Buffer ic = put(*cpu, i), ig = put(*gpu, i), fc = put(*cpu, f), fg = put(*gpu, f), hc = put(*cpu, h),
                 hg = put(*gpu, h), dhc = put(*cpu, dh), dhg = put(*gpu, dh), lbc = put(*cpu, lb), lbg = put(*gpu, lb);
    Buffer dic = cpu->alloc(rows * d * 4), dig = gpu->alloc(rows * d * 4), dfc = cpu->alloc(rows * d * 4),
           dfg = gpu->alloc(rows * d * 4), dlbc = cpu->alloc(d * 4), dlbg = gpu->alloc(d * 4);
    cpu->mlgru_scan_backward({ic.as<float>(), fc.as<float>(), hc.as<float>(), lbc.as<float>(), dhc.as<float>(), B, T, d,
                              dic.as<float>(), dfc.as<float>(), dlbc.as<float>()});
    gpu->mlgru_scan_backward({ig.as<float>(), fg.as<float>(), hg.as<float>(), lbg.as<float>(), dhg.as<float>(), B, T, d,
                              dig.as<float>(), dfg.as<float>(), dlbg.as<float>()});
    // The device runs the recurrence in chunks of kScanChunk = 64 steps (each chunk's carry-free
    // pass, the product of its 64 forget gates, then the chain of the 32 chunks' carries), a
    // reassociation of the cpu's serial sums: a value's path gains up to 64 + 32 roundings of
    // 2^-24 relative to the largest value, 5.7e-6, beside the exp differences (1e-6). Bound 1e-5;
    // measured on an H200: 3.5e-6 (6.8e-8 when the device scanned serially).
    const double e = std::max({normwise_error(get<float>(*gpu, dig, rows * d), get<float>(*cpu, dic, rows * d)),
                               normwise_error(get<float>(*gpu, dfg, rows * d), get<float>(*cpu, dfc, rows * d)),
                               normwise_error(get<float>(*gpu, dlbg, d), get<float>(*cpu, dlbc, d))});
    std::printf("[ metric ] cuda vs cpu mlgru_scan_backward B=8 T=2048 d=1024 normwise error %.3g (bound 1e-5)\n", e);
    EXPECT_LE(e, 1e-5);

    std::vector<int32_t> tokens(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) tokens[r] = static_cast<int32_t>((r * r * 7919) % 997);  // many repeats
    const Buffer tc = put(*cpu, tokens), tg = put(*gpu, tokens);
    Buffer tabc = put(*cpu, randn(997 * d, 66)), tabg = put(*gpu, randn(997 * d, 66));
    cpu->embed_backward(tc.as<int32_t>(), dhc.as<float>(), rows, d, tabc.as<float>());
    gpu->embed_backward(tg.as<int32_t>(), dhg.as<float>(), rows, d, tabg.as<float>());
    EXPECT_EQ(count_differ(get<float>(*gpu, tabg, 997 * d), get<float>(*cpu, tabc, 997 * d)), 0);  // row order on both

    const int64_t lrows = 512;
    const auto logits = randn(lrows * V, 67, 3.0f);
    std::vector<int32_t> labels(static_cast<size_t>(lrows));
    for (int64_t r = 0; r < lrows; ++r) labels[r] = r % 9 == 8 ? -1 : static_cast<int32_t>((r * 104729) % V);
    Buffer lc = put(*cpu, logits), lg = put(*gpu, logits);
    const Buffer labc = put(*cpu, labels), labg = put(*gpu, labels);
    const double nc = cpu->cross_entropy(lc.as<float>(), labc.as<int32_t>(), lrows, V, 1.0f / 455);
    const double ng = gpu->cross_entropy(lg.as<float>(), labg.as<int32_t>(), lrows, V, 1.0f / 455);
    // Each exp within 3 ulp of glibc's moves its row's log-sum by <= 3 * 2^-24: 455 labelled rows,
    // 8.2e-5. Measured on an H200 (a double exp then): 2.2e-8 (NLL 6651.0), gradients 1.7e-9 normwise.
    EXPECT_NEAR(ng, nc, 455 * 3 * 6e-8);
    const double eg = normwise_error(get<float>(*gpu, lg, lrows * V), get<float>(*cpu, lc, lrows * V));
    std::printf("[ metric ] cuda vs cpu cross_entropy 512x32000: NLL %.17g vs %.17g, gradient normwise error %.3g (bound 1e-6)\n",
                ng, nc, eg);
    EXPECT_LE(eg, 1e-6);
  }
  {  // the optimizer and clipping over many blocks' worth of parameters
    const int64_t count = 30'000'001;
    std::vector<float> p = randn(count, 71), g = randn(count, 72), m = randn(count, 73, 0.1f), v = randn(count, 74, 0.1f);
    for (auto& x : v) x *= x;
    Buffer pc = put(*cpu, p), pg = put(*gpu, p), mc = put(*cpu, m), mg = put(*gpu, m), vc = put(*cpu, v), vg = put(*gpu, v);
    const Buffer gc = put(*cpu, g), gg = put(*gpu, g);
    const AdamWUpdate u{nullptr, nullptr, nullptr, nullptr, count, 0.999f, 1e-3f, 0.3f, 0.1f, 0.95f, 0.05f, 1e-8f};
    AdamWUpdate uc = u, ug = u;
    uc.p = pc.as<float>(), uc.g = gc.as<float>(), uc.m = mc.as<float>(), uc.v = vc.as<float>();
    ug.p = pg.as<float>(), ug.g = gg.as<float>(), ug.m = mg.as<float>(), ug.v = vg.as<float>();
    cpu->adamw(uc);
    gpu->adamw(ug);
    // Again from element 3 on (a run that starts off a 16-byte boundary: scalar head, 4 a thread, tail).
    for (AdamWUpdate* x : {&uc, &ug}) {
      x->p += 3, x->g += 3, x->m += 3, x->v += 3;
      x->n -= 3;
    }
    cpu->adamw(uc);
    gpu->adamw(ug);
    EXPECT_EQ(count_differ(get<float>(*gpu, pg, count), get<float>(*cpu, pc, count)), 0);
    EXPECT_EQ(count_differ(get<float>(*gpu, mg, count), get<float>(*cpu, mc, count)), 0);
    EXPECT_EQ(count_differ(get<float>(*gpu, vg, count), get<float>(*cpu, vc, count)), 0);
    const double sc = cpu->sum_squares(gc.as<float>(), count), sg = gpu->sum_squares(gg.as<float>(), count);
    EXPECT_NEAR(sg, sc, 1e-12 * sc);  // double sums of floats in two orders
  }
}

// The default precision of the CUDA backend's backward GEMMs: bf16 operands, float sums. The
// ternary codes and the int8 q are exact in bf16; dy and q / s_x are rounded to 8 significant bits
// (unit roundoff u = 2^-8), so each term of a sum is off by at most 2u relative and a sum of many
// terms of mixed signs by about 2u / sqrt(3) of its norm (independent roundings): the bound on each
// output's relative L2 error is 2u = 7.8e-3, a factor sqrt(3) above that estimate, against the
// FP32 cpu backend.
TEST(CudaTrainOps, Bf16BackwardWithinRounding) {
  std::string skip;
  std::unique_ptr<Backend> gpu = cuda_trainer("bf16", skip);
  if (!gpu) GTEST_SKIP() << skip;
  auto cpu = make_backend(DeviceOptions{.device = "cpu", .threads = 0, .isa = ""});
  const int64_t n = 2048, d = 1024, I = 2816;
  cpu->reserve_training(n, I);
  gpu->reserve_training(n, I);
  const double u2 = 2.0 / 256;
  for (const MatrixShape s : {MatrixShape{n, d, I}, MatrixShape{n, 2 * I, d}, MatrixShape{33, 130, 64}}) {
    const auto latent = randn(s.rows * s.cols, 81, 0.02f), norm = randn(s.cols, 82), m = randn(s.n * s.cols, 83, 2.0f),
               dy = randn(s.n * s.rows, 84);
    Trainable c(*cpu, s, false, latent, norm), g(*gpu, s, false, latent, norm);
    EXPECT_EQ(cpu->weight_scale(*c.w), gpu->weight_scale(*g.w));
    const Buffer mc = put(*cpu, m), mg = put(*gpu, m), dyc = put(*cpu, dy), dyg = put(*gpu, dy);
    Buffer dmc = cpu->alloc(s.n * s.cols * 4), dmg = gpu->alloc(s.n * s.cols * 4), dwc = cpu->alloc(s.rows * s.cols * 4),
           dwg = gpu->alloc(s.rows * s.cols * 4), dnc = cpu->alloc(s.cols * 4), dng = gpu->alloc(s.cols * 4);
    cpu->bitlinear_backward({c.w.get(), c.norm.as<float>(), mc.as<float>(), dyc.as<float>(), s.n, dmc.as<float>(), false,
                             dwc.as<float>(), dnc.as<float>()});
    gpu->bitlinear_backward({g.w.get(), g.norm.as<float>(), mg.as<float>(), dyg.as<float>(), s.n, dmg.as<float>(), false,
                             dwg.as<float>(), dng.as<float>()});
    const double em = test::relative_l2(get<float>(*gpu, dmg, s.n * s.cols), get<float>(*cpu, dmc, s.n * s.cols)),
                 ew = test::relative_l2(get<float>(*gpu, dwg, s.rows * s.cols), get<float>(*cpu, dwc, s.rows * s.cols)),
                 en = test::relative_l2(get<float>(*gpu, dng, s.cols), get<float>(*cpu, dnc, s.cols));
    std::printf("[ metric ] cuda bf16 vs cpu fp32 bitlinear_backward %ldx%ldx%ld relative L2 error dm %.3g dw %.3g dnorm %.3g "
                "(bound %.3g)\n",
                static_cast<long>(s.n), static_cast<long>(s.rows), static_cast<long>(s.cols), em, ew, en, u2);
    EXPECT_LE(std::max({em, ew, en}), u2);
  }
}

// With bf16 backward GEMMs the CUDA backend forms the GLU's gradient straight into bf16 (no float
// copy, no conversion pass): the same bits as running glu_backward in float and converting, so dm,
// dw and dnorm equal the unfused backward's bit for bit (the vectorised kernel at I = 2816, the
// scalar one at I = 65).
TEST(CudaTrainOps, GluFormedDyIsTheUnfusedBits) {
  std::string skip;
  std::unique_ptr<Backend> gpu = cuda_trainer("bf16", skip);
  if (!gpu) GTEST_SKIP() << skip;
  const int64_t n = 2048, d = 1024, I = 2816;
  gpu->reserve_training(n, 2 * I);
  for (const MatrixShape s : {MatrixShape{n, 2 * I, d}, MatrixShape{33, 130, 64}}) {
    const int64_t half = s.rows / 2;
    const auto latent = randn(s.rows * s.cols, 91, 0.02f), norm = randn(s.cols, 92), m = randn(s.n * s.cols, 93, 2.0f),
               gv = randn(s.n * s.rows, 94, 2.0f), dz = randn(s.n * half, 95);
    Trainable g(*gpu, s, false, latent, norm);
    const Buffer mg = put(*gpu, m), gvg = put(*gpu, gv), dzg = put(*gpu, dz);
    Buffer dgv = gpu->alloc(s.n * s.rows * 4);
    std::vector<float> got[2][3];
    for (int fused = 0; fused < 2; ++fused) {
      Buffer dm = gpu->alloc(s.n * s.cols * 4), dw = gpu->alloc(s.rows * s.cols * 4), dn = gpu->alloc(s.cols * 4);
      BitLinearBackward b{.w = g.w.get(), .norm = g.norm.as<float>(), .m = mg.as<float>(), .n = s.n, .dm = dm.as<float>(),
                          .dw = dw.as<float>(), .dnorm = dn.as<float>()};
      const GluBackward glu{.gv = gvg.as<float>(), .dz = dzg.as<float>(), .I = half, .dgv = dgv.as<float>()};
      if (fused) {
        b.glu = &glu;
      } else {
        gpu->glu_backward(gvg.as<float>(), dzg.as<float>(), s.n, half, dgv.as<float>());
        b.dy = dgv.as<float>();
      }
      gpu->bitlinear_backward(b);
      got[fused][0] = get<float>(*gpu, dm, s.n * s.cols);
      got[fused][1] = get<float>(*gpu, dw, s.rows * s.cols);
      got[fused][2] = get<float>(*gpu, dn, s.cols);
    }
    for (int j = 0; j < 3; ++j) EXPECT_EQ(count_differ(got[1][j], got[0][j]), 0) << s.n << "x" << s.rows << " output " << j;
  }
}

// With bf16 backward GEMMs the MLGRU's scan backward and gated backward can write di, df_lin and dg
// straight into bf16 (MlgruScanBackward / GatedBackward::formed) for i, f and g's backwards to read
// (BitLinearBackward::dy_formed): each formed row holds the float pass's values rounded to nearest
// even (util/half.h's f32_to_bf16), the other outputs (dh, dlb, the norm's dw) are the float pass's
// bits, and a backward from the formed dy gives the bits of one from the float dy (dm, dw, dnorm).
// d = 1024 takes the streamed RMSNorm backward, d = 130 the row-per-block one.
TEST(CudaTrainOps, FormedDyIsTheConvertedBits) {
  std::string skip;
  std::unique_ptr<Backend> gpu = cuda_trainer("bf16", skip);
  if (!gpu) GTEST_SKIP() << skip;
  for (const int64_t d : {1024, 130}) {
    const int64_t B = 2, T = 130, n = B * T;
    gpu->reserve_training(n, d);
    const Buffer h = put(*gpu, randn(n * d, 161, 2.0f)), g = put(*gpu, randn(n * d, 162, 2.0f)), w = put(*gpu, randn(d, 163)),
                 dm = put(*gpu, randn(n * d, 164)), i = put(*gpu, randn(n * d, 165, 2.0f)),
                 f = put(*gpu, randn(n * d, 166, 2.0f)), lb = put(*gpu, randn(d, 167, 0.2f)), dh = put(*gpu, randn(n * d, 168));
    const MatrixShape s{n, d, d};
    const Trainable mat(*gpu, s, false, randn(d * d, 169, 0.02f), randn(d, 170));
    const Buffer m = put(*gpu, randn(n * d, 171, 2.0f));
    std::vector<float> floats[3], other[2][3], grads[2][3][3];
    std::vector<uint16_t> formed[3];
    for (int form = 0; form < 2; ++form) {
      Buffer dy[3] = {gpu->alloc(n * d * 4), gpu->alloc(n * d * 4), gpu->alloc(n * d * 4)};  // dg, di, df
      Buffer dh_out = gpu->alloc(n * d * 4), dw = put(*gpu, randn(d, 172)), dlb = put(*gpu, randn(d, 173));
      gpu->gated_backward({.h = h.as<float>(), .g = g.as<float>(), .w = w.as<float>(), .dm = dm.as<float>(), .n = n, .d = d,
                           .dh = dh_out.as<float>(), .dg = dy[0].as<float>(), .dw = dw.as<float>(), .formed = form == 1});
      gpu->mlgru_scan_backward({.i = i.as<float>(), .f_lin = f.as<float>(), .h = h.as<float>(), .lb = lb.as<float>(),
                                .dh = dh.as<float>(), .B = B, .T = T, .d = d, .di = dy[1].as<float>(),
                                .df_lin = dy[2].as<float>(), .dlb = dlb.as<float>(), .formed = form == 1});
      other[form][0] = get<float>(*gpu, dh_out, n * d);
      other[form][1] = get<float>(*gpu, dw, d);
      other[form][2] = get<float>(*gpu, dlb, d);
      for (int j = 0; j < 3; ++j) {
        if (form == 0) {
          floats[j] = get<float>(*gpu, dy[j], n * d);
        } else {
          formed[j].resize(n * d);
          gpu->read(formed[j].data(), dy[j].as<void>(), n * d * 2);
        }
        Buffer dmo = gpu->alloc(n * d * 4), dwo = gpu->alloc(d * d * 4), dno = gpu->alloc(d * 4);
        gpu->fill_zero(dwo.as<void>(), d * d * 4);
        gpu->fill_zero(dno.as<void>(), d * 4);
        gpu->bitlinear_backward({.w = mat.w.get(), .norm = mat.norm.as<float>(), .m = m.as<float>(), .dy = dy[j].as<float>(),
                                 .n = n, .dm = dmo.as<float>(), .dw = dwo.as<float>(), .dnorm = dno.as<float>(),
                                 .dy_formed = form == 1});
        grads[form][j][0] = get<float>(*gpu, dmo, n * d);
        grads[form][j][1] = get<float>(*gpu, dwo, d * d);
        grads[form][j][2] = get<float>(*gpu, dno, d);
      }
    }
    for (int j = 0; j < 3; ++j) {
      int64_t differ = 0;
      for (int64_t e = 0; e < n * d; ++e) differ += formed[j][e] != f32_to_bf16(floats[j][e]);
      EXPECT_EQ(differ, 0) << "d " << d << " formed output " << j;
      EXPECT_EQ(count_differ(other[1][j], other[0][j]), 0) << "d " << d << " other output " << j;
      for (int o = 0; o < 3; ++o)
        EXPECT_EQ(count_differ(grads[1][j][o], grads[0][j][o]), 0) << "d " << d << " dy " << j << " gradient " << o;
    }
  }
}

// The MLGRU's i, f, g backwards as one group (Backend::bitlinear_backwards: their RMSNorm backwards
// in one pass over m on the CUDA backend) give the bits of the three calls one after another: dm
// (written or added to by the first, added to by the rest), each dw and dnorm. Both GEMM
// precisions; rows of 1, 2 and 4 chunks a thread (k = 1000, 2048, 2560).
TEST(CudaTrainOps, GroupedBackwardsAreTheOneByOneBits) {
  for (const std::string gemm : {"bf16", "fp32"}) {
    std::string skip;
    std::unique_ptr<Backend> gpu = cuda_trainer(gemm, skip);
    if (!gpu) GTEST_SKIP() << skip;
    for (const int64_t k : {1000, 2048, 2560}) {
      const int64_t n = 700, rows = k;
      gpu->reserve_training(n, k);
      const MatrixShape s{n, rows, k};
      const auto m = randn(n * k, 101, 2.0f), dm0 = randn(n * k, 102);
      std::vector<Trainable> mats;
      std::vector<Buffer> dys;
      for (int j = 0; j < 3; ++j) {
        mats.emplace_back(*gpu, s, false, randn(rows * k, 110 + j, 0.02f), randn(k, 120 + j));
        dys.push_back(put(*gpu, randn(n * rows, 130 + j)));
      }
      const Buffer mg = put(*gpu, m);
      for (bool accumulate : {false, true}) {
        std::vector<float> got[2][7];
        for (int grouped = 0; grouped < 2; ++grouped) {
          Buffer dm = put(*gpu, dm0);
          std::vector<Buffer> dw, dn;
          std::vector<BitLinearBackward> calls;
          for (int j = 0; j < 3; ++j) {
            dw.push_back(put(*gpu, randn(rows * k, 140 + j)));
            dn.push_back(put(*gpu, randn(k, 150 + j)));
            calls.push_back({.w = mats[j].w.get(), .norm = mats[j].norm.as<float>(), .m = mg.as<float>(),
                             .dy = dys[j].as<float>(), .n = n, .dm = dm.as<float>(), .accumulate = accumulate || j > 0,
                             .dw = dw[j].as<float>(), .dnorm = dn[j].as<float>()});
          }
          if (grouped) {
            gpu->bitlinear_backwards(calls);
          } else {
            for (const BitLinearBackward& c : calls) gpu->bitlinear_backward(c);
          }
          got[grouped][0] = get<float>(*gpu, dm, n * k);
          for (int j = 0; j < 3; ++j) {
            got[grouped][1 + j] = get<float>(*gpu, dw[j], rows * k);
            got[grouped][4 + j] = get<float>(*gpu, dn[j], k);
          }
        }
        for (int o = 0; o < 7; ++o)
          EXPECT_EQ(count_differ(got[1][o], got[0][o]), 0) << gemm << " k " << k << " accumulate " << accumulate << " output " << o;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTrainOps, ::testing::ValuesIn(test::backends_under_test()),
                         [](const ::testing::TestParamInfo<BackendCase>& i) { return i.param.name; });

}  // namespace
}  // namespace mmfree
