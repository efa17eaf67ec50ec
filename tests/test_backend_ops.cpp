// Every op of every backend against the ref backend (the plain formulas of SPEC.md), at odd shapes,
// in one harness: a new backend is tested by adding it to backends_under_test() (the training ops:
// tests/test_backend_train_ops.cpp, on the same list). Integer products
// must equal ref's bit for bit; float ops stay within the bounds stated at each check, which are
// set from the error the arithmetic allows (the AVX-512 exp inside sigmoid/SiLU is ~1 ulp off
// std::exp; RMSNorm and the int8 quantiser are bit-exact by construction).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/ref/ref_backend.h"
#include "kernels/cpu_isa.h"
#include "kernels/ternary_ref.h"
#include "backend_harness.h"
#include "test_util.h"
#include "util/half.h"

namespace mmfree {
namespace {

using test::BackendCase;
using test::backends_under_test;
using test::get;
using test::normwise_error;
using test::put;
using test::randn;
using test::random_ternary;

BitLinearInput plain(float* x, int64_t cols) { return {.kind = BitLinearInput::Kind::Plain, .x = x, .ld = cols}; }

// A packed matrix kept alive for the test (backends may read host bytes in place).
struct PackedCase {
  std::vector<uint8_t> bytes;
  TernaryMatrix w;
  float s_w;
};

PackedCase pack(TernaryFormat f, int64_t rows, int64_t cols, uint32_t seed) {
  PackedCase p;
  const auto t = random_ternary(rows * cols, seed);
  p.s_w = 0.37f + static_cast<float>(seed % 7) * 0.11f;
  p.bytes = pack_ternary(f, t.data(), rows, cols, 1.0f / p.s_w);
  p.w = TernaryMatrix{f, p.bytes.data(), rows, cols};
  return p;
}

class BackendOps : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    if (!GetParam().skip_reason.empty()) GTEST_SKIP() << GetParam().name << ": " << GetParam().skip_reason;
    be_ = GetParam().make();
  }
  RefBackend ref_;
  std::unique_ptr<Backend> be_;
};

struct Shape {
  TernaryFormat f;
  int64_t rows, cols;
};
const Shape kShapes[] = {{TernaryFormat::I8, 13, 7},          {TernaryFormat::I8, 130, 300},
                         {TernaryFormat::TQ2_0, 17, 256},     {TernaryFormat::TQ1_0, 9, 512},
                         {TernaryFormat::TQ2_0_R8, 24, 256},  {TernaryFormat::TQ2_0_R8, 77, 768},
                         {TernaryFormat::TQ2_0_R8, 1030, 512}};
const int64_t kRows[] = {1, 2, 5, 17, 100};

TEST_P(BackendOps, TernaryProductEqualsRefBitForBit) {
  for (const Shape& s : kShapes)
    for (int64_t n : kRows) {
      const PackedCase p = pack(s.f, s.rows, s.cols, static_cast<uint32_t>(s.rows * 31 + n));
      std::mt19937 rng(static_cast<uint32_t>(n));
      std::uniform_int_distribution<int> d(-128, 127);
      std::vector<int8_t> q(static_cast<size_t>(n * s.cols));
      for (auto& x : q) x = static_cast<int8_t>(d(rng));
      ref_.reserve(n, s.cols);
      be_->reserve(n, s.cols);
      const auto wr = ref_.upload_matrix(p.w, p.s_w);
      const auto wb = be_->upload_matrix(p.w, p.s_w);
      std::vector<int32_t> want(static_cast<size_t>(n * s.rows));
      ref_.ternary_product(*wr, q.data(), n, want.data());
      const Buffer qb = put(*be_, q);
      Buffer acc = be_->alloc(n * s.rows * 4);
      be_->ternary_product(*wb, qb.as<int8_t>(), n, acc.as<int32_t>());
      EXPECT_EQ(get<int32_t>(*be_, acc, n * s.rows), want) << format_name(s.f) << " " << s.rows << "x" << s.cols << " n=" << n;
    }
}

TEST_P(BackendOps, TernaryProductAtModelShapesEqualsRef) {
  // Model-sized products at a prefill of 2 x 24 tokens: many row tiles (500), the 370M GLU's 2816
  // columns. ref's sums are computed once for all backends.
  const Shape shapes[] = {{TernaryFormat::TQ2_0_R8, 8000, 1024}, {TernaryFormat::TQ2_0_R8, 1024, 2816}};
  for (const Shape& s : shapes)
    for (int64_t n : {1, 48}) {
      const PackedCase p = pack(s.f, s.rows, s.cols, static_cast<uint32_t>(s.cols + n));
      std::mt19937 rng(static_cast<uint32_t>(n));
      std::uniform_int_distribution<int> d(-128, 127);
      std::vector<int8_t> q(static_cast<size_t>(n * s.cols));
      for (auto& x : q) x = static_cast<int8_t>(d(rng));
      be_->reserve(n, s.cols);
      const auto wr = ref_.upload_matrix(p.w, p.s_w);
      const auto wb = be_->upload_matrix(p.w, p.s_w);
      static std::map<std::pair<int64_t, int64_t>, std::vector<int32_t>> cache;
      std::vector<int32_t>& want = cache[{s.rows * 100000 + s.cols, n}];
      if (want.empty()) {
        want.resize(static_cast<size_t>(n * s.rows));
        ref_.ternary_product(*wr, q.data(), n, want.data());
      }
      const Buffer qb = put(*be_, q);
      Buffer acc = be_->alloc(n * s.rows * 4);
      be_->ternary_product(*wb, qb.as<int8_t>(), n, acc.as<int32_t>());
      const auto got = get<int32_t>(*be_, acc, n * s.rows);
      int64_t wrong = 0;
      for (size_t i = 0; i < got.size(); ++i) wrong += got[i] != want[i];
      EXPECT_EQ(wrong, 0) << s.rows << "x" << s.cols << " n=" << n;
    }
}

// Weights are ready the moment upload returns. Issue 12's defect: on CUDA a pageable cudaMemcpy
// returned before its DMA landed, and the re-layout on the backend's own (non-blocking) stream read
// part of the previous matrix's codes left at the reused address, so model logits changed from one
// load to the next. Several large matrices (the 370M lm_head's shape) and embedding tables in a row,
// each used at once; ref's answers are computed once for all backends.
TEST_P(BackendOps, UploadsAreReadyWhenTheyReturn) {
  if (be_->host_memory()) GTEST_SKIP() << GetParam().name << " reads the host's bytes in place: nothing is copied";
  constexpr int64_t rows = 32000, cols = 1024, n = 1;
  constexpr int kRounds = 3;
  struct Round {
    PackedCase w;
    std::vector<int8_t> q;
    std::vector<int32_t> sums;  // ref's
    std::vector<uint16_t> table;  // BF16
  };
  static std::vector<Round> rounds = [] {
    std::vector<Round> r(kRounds);
    RefBackend ref;
    for (int i = 0; i < kRounds; ++i) {
      r[i].w = pack(TernaryFormat::TQ2_0_R8, rows, cols, static_cast<uint32_t>(100 + i));
      std::mt19937 rng(static_cast<uint32_t>(i));
      std::uniform_int_distribution<int> d(-128, 127);
      r[i].q.resize(cols);
      for (auto& x : r[i].q) x = static_cast<int8_t>(d(rng));
      const auto wr = ref.upload_matrix(r[i].w.w, r[i].w.s_w);
      r[i].sums.resize(rows);
      ref.ternary_product(*wr, r[i].q.data(), n, r[i].sums.data());
      const auto f = randn(rows * cols, static_cast<uint32_t>(200 + i));
      r[i].table.resize(f.size());
      for (size_t j = 0; j < f.size(); ++j) r[i].table[j] = f32_to_bf16(f[j]);
    }
    return r;
  }();
  // The table's last rows (the end of the copy) and a few others.
  std::vector<int32_t> ids;
  for (int32_t t = rows - 48; t < rows; ++t) ids.push_back(t);
  for (int32_t t : {0, 1, 7, 12345, 31000}) ids.push_back(t);
  const int64_t m = static_cast<int64_t>(ids.size());
  be_->reserve(m, cols);
  const Buffer idb = put(*be_, ids);
  for (int i = 0; i < kRounds; ++i) {
    const Round& r = rounds[i];
    const auto wb = be_->upload_matrix(r.w.w, r.w.s_w);
    const Buffer qb = put(*be_, r.q);
    Buffer acc = be_->alloc(n * rows * 4);
    be_->ternary_product(*wb, qb.as<int8_t>(), n, acc.as<int32_t>());
    const auto got = get<int32_t>(*be_, acc, n * rows);
    int64_t wrong = 0;
    for (size_t j = 0; j < got.size(); ++j) wrong += got[j] != r.sums[j];
    EXPECT_EQ(wrong, 0) << "matrix " << i;

    const EmbeddingTable t(GgmlType::BF16, reinterpret_cast<const uint8_t*>(r.table.data()), rows, cols);
    const auto eb = be_->upload_embeddings(t);
    Buffer out = be_->alloc(m * cols * 4);
    be_->embed(*eb, idb.as<int32_t>(), m, out.as<float>());
    const auto e = get<float>(*be_, out, m * cols);
    int64_t wrong_e = 0;
    for (int64_t j = 0; j < m; ++j)
      for (int64_t c = 0; c < cols; ++c) wrong_e += e[j * cols + c] != bf16_to_f32(r.table[ids[j] * cols + c]);
    EXPECT_EQ(wrong_e, 0) << "table " << i;
  }
}

TEST_P(BackendOps, BitLinearGroupsMatchRef) {
  // Three layers sharing one input (the MLGRU's i, f, g) and a single one; outputs are integer sums
  // over the same quantised input scaled by the same floats: equal to ref bit for bit on the CPU.
  for (int64_t n : kRows)
    for (const Shape& s : {kShapes[1], kShapes[4], kShapes[5]}) {
      std::vector<PackedCase> ps;
      for (uint32_t j = 0; j < 3; ++j) ps.push_back(pack(s.f, s.rows + static_cast<int64_t>(j) * 8, s.cols, 100 + j));
      const auto x = randn(n * s.cols, static_cast<uint32_t>(n), 2.0f);
      ref_.reserve(n, s.cols);
      be_->reserve(n, s.cols);
      const Buffer xb = put(*be_, x);
      std::vector<std::unique_ptr<BackendMatrix>> wr, wb;
      std::vector<std::vector<float>> norms;
      std::vector<Buffer> norm_b, y_b;
      std::vector<std::vector<float>> want;
      std::vector<BitLinearCall> ref_calls, be_calls;
      for (size_t j = 0; j < ps.size(); ++j) {
        wr.push_back(ref_.upload_matrix(ps[j].w, ps[j].s_w));
        wb.push_back(be_->upload_matrix(ps[j].w, ps[j].s_w));
        norms.push_back(randn(s.cols, 7 + static_cast<uint32_t>(j), 0.5f));
        norm_b.push_back(put(*be_, norms[j]));
        want.emplace_back(static_cast<size_t>(n * ps[j].w.rows));
        y_b.push_back(be_->alloc(n * ps[j].w.rows * 4));
      }
      for (size_t j = 0; j < ps.size(); ++j) {
        ref_calls.push_back({wr[j].get(), norms[j].data(), want[j].data()});
        be_calls.push_back({wb[j].get(), norm_b[j].as<float>(), y_b[j].as<float>()});
      }
      ref_.bitlinear(ref_calls, plain(const_cast<float*>(x.data()), s.cols), n);
      be_->bitlinear(be_calls, plain(xb.as<float>(), s.cols), n);
      for (size_t j = 0; j < ps.size(); ++j)
        EXPECT_EQ(get<float>(*be_, y_b[j], n * ps[j].w.rows), want[j]) << "group member " << j << " n=" << n;
      be_->bitlinear({be_calls.data(), 1}, plain(xb.as<float>(), s.cols), n);  // alone
      EXPECT_EQ(get<float>(*be_, y_b[0], n * ps[0].w.rows), want[0]) << "single layer n=" << n;
    }
}

// The input m of a BitLinear as each BitLinearInput kind defines it, computed on the host with the
// plain formulas (SPEC.md), so that the bound below can be set against it.
std::vector<float> form_input_host(BitLinearInput::Kind kind, const std::vector<float>& x, const std::vector<float>& add,
                                   const std::vector<float>& h, const std::vector<float>& w, int64_t n, int64_t cols,
                                   int64_t ld) {
  using Kind = BitLinearInput::Kind;
  const auto silu = [](float v) { return v / (1.0f + std::exp(-v)); };
  std::vector<float> m(static_cast<size_t>(n * cols));
  for (int64_t r = 0; r < n; ++r) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) row[c] = x[r * ld + c] + (add.empty() ? 0.0f : add[r * ld + c]);
    if (kind == Kind::Norm || kind == Kind::Gated) {
      double ss = 0;
      for (float v : row) ss += static_cast<double>(v) * v;
      const float rstd = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(cols)) + 1e-6f);
      for (int64_t c = 0; c < cols; ++c) row[c] = row[c] * rstd * w[c];
    }
    for (int64_t c = 0; c < cols; ++c) {
      if (kind == Kind::Gated) row[c] = silu(h[r * ld + c]) * row[c];
      if (kind == Kind::Glu) row[c] = silu(x[r * ld + c]) * x[r * ld + cols + c];
      m[r * cols + c] = row[c];
    }
  }
  return m;
}

TEST_P(BackendOps, BitLinearInputKindsMatchRef) {
  // Each kind of input (the element-wise work a backend may fuse with the quantisation), then a
  // BitLinear. Float rounding in m can move an int8 code across a rounding boundary: each such
  // flip moves an output by at most 1 / (s_x s_w). Bound: 2 flips' worth per output (the metric
  // line gives the measured figure); the residual stream x += add must be exact (one addition).
  using Kind = BitLinearInput::Kind;
  int64_t differing = 0, total = 0;
  double worst_flips = 0;
  for (Kind kind : {Kind::Plain, Kind::Norm, Kind::Gated, Kind::Glu})
    for (int64_t cols : {256, 300, 1024, 2816})
      for (int64_t n : {1, 3, 48})
        for (bool with_add : {false, true}) {
          if (with_add && kind != Kind::Norm) continue;
          const int64_t ld = kind == Kind::Glu ? 2 * cols + 5 : cols + 3;  // rows never dense: ld is honoured
          const int64_t out = 40;
          const PackedCase p = pack(cols % 256 ? TernaryFormat::I8 : TernaryFormat::TQ2_0_R8, out, cols, 9);
          const auto x = randn(n * ld, 11, 2.0f), add = randn(n * ld, 12), h = randn(n * ld, 13, 2.0f);
          const auto w = randn(cols, 14, 0.7f), norm = randn(cols, 15, 0.7f);
          ref_.reserve(n, cols);
          be_->reserve(n, cols);
          const auto wr = ref_.upload_matrix(p.w, p.s_w);
          const auto wb = be_->upload_matrix(p.w, p.s_w);
          std::vector<float> want(static_cast<size_t>(n * out)), xr = x;
          const BitLinearCall rc{wr.get(), norm.data(), want.data()};
          ref_.bitlinear({&rc, 1},
                         {.kind = kind, .x = xr.data(), .ld = ld, .add = with_add ? add.data() : nullptr, .h = h.data(),
                          .w = w.data(), .eps = 1e-6f},
                         n);
          Buffer xb = put(*be_, x);
          const Buffer ab = put(*be_, add), hb = put(*be_, h), wbuf = put(*be_, w), nb = put(*be_, norm);
          Buffer yb = be_->alloc(n * out * 4);
          const BitLinearCall bc{wb.get(), nb.as<float>(), yb.as<float>()};
          be_->bitlinear({&bc, 1},
                         {.kind = kind, .x = xb.as<float>(), .ld = ld, .add = with_add ? ab.as<float>() : nullptr,
                          .h = hb.as<float>(), .w = wbuf.as<float>(), .eps = 1e-6f},
                         n);
          const auto got = get<float>(*be_, yb, n * out);
          const auto m = form_input_host(kind, x, with_add ? add : std::vector<float>{}, h, w, n, cols, ld);
          std::vector<int8_t> q(m.size());
          std::vector<float> s_x(static_cast<size_t>(n));
          rmsnorm_quantize_ref(m.data(), norm.data(), n, cols, q.data(), s_x.data());
          for (int64_t r = 0; r < n; ++r)
            for (int64_t o = 0; o < out; ++o) {
              const double flips = std::abs(static_cast<double>(got[r * out + o]) - want[r * out + o]) * s_x[r] * p.s_w;
              worst_flips = std::max(worst_flips, flips);
              differing += got[r * out + o] != want[r * out + o];
              ++total;
              EXPECT_LE(flips, 2.0) << "kind " << static_cast<int>(kind) << " cols=" << cols << " n=" << n;
            }
          if (with_add) {
            EXPECT_EQ(get<float>(*be_, xb, n * ld), xr) << "residual stream x += add";
          }
        }
  std::printf("[ metric ] %s bitlinear inputs: %lld of %lld outputs differ from ref, worst by %.3g code steps (bound 2)\n",
              GetParam().name.c_str(), static_cast<long long>(differing), static_cast<long long>(total), worst_flips);
}

TEST_P(BackendOps, MlgruScanMatchesRef) {
  double worst = 0;
  for (int64_t d : {1, 17, 128, 1000, 1024})
    for (int64_t B : {1, 3})
      for (int64_t T : {1, 2, 9, 24})
        for (bool with_lb : {false, true}) {
          const int64_t n = B * T, slots = B + 2, stride = 2 * d;  // states of 2 layers per slot; layer 1 used
          be_->reserve(n, d);
          const auto i = randn(n * d, 1), f = randn(n * d, 2, 2.0f), h0 = randn(slots * stride, 3);
          std::vector<float> lb(static_cast<size_t>(d));
          std::mt19937 rng(4);
          std::uniform_real_distribution<float> u(0.0f, 0.9f);
          for (auto& v : lb) v = u(rng);
          std::vector<int32_t> slot_ids(static_cast<size_t>(B));
          for (int64_t b = 0; b < B; ++b) slot_ids[b] = static_cast<int32_t>((b * 2 + 1) % slots);  // not in order
          std::vector<float> want_h = h0, want_out(static_cast<size_t>(n * d));
          ref_.mlgru_scan(MlgruScan{i.data(), f.data(), with_lb ? lb.data() : nullptr, B, T, d, want_h.data() + d,
                                    slot_ids.data(), stride, want_out.data()});
          const Buffer ib = put(*be_, i), fb = put(*be_, f), lbb = put(*be_, lb), sb = put(*be_, slot_ids);
          Buffer hb = put(*be_, h0), out = be_->alloc(n * d * 4);
          be_->mlgru_scan(MlgruScan{ib.as<float>(), fb.as<float>(), with_lb ? lbb.as<float>() : nullptr, B, T, d,
                                    hb.as<float>() + d, sb.as<int32_t>(), stride, out.as<float>()});
          const double e = std::max(normwise_error(get<float>(*be_, out, n * d), want_out),
                                    normwise_error(get<float>(*be_, hb, slots * stride), want_h));
          worst = std::max(worst, e);
          // Bound (normwise): sigmoid and SiLU each within ~2 ulps (vectorised exp), carried through
          // T <= 9 steps of a contraction (|f| < 1) so errors do not grow: measured 1.2e-7 (1 ulp of
          // the largest value) on AVX-512; 1e-6 is 8 ulps.
          EXPECT_LE(e, 1e-6) << "d=" << d << " B=" << B << " T=" << T << " lb=" << with_lb;
          // h_out may alias i (inference writes h over i).
          Buffer alias = put(*be_, i);
          hb = put(*be_, h0);
          be_->mlgru_scan(MlgruScan{alias.as<float>(), fb.as<float>(), with_lb ? lbb.as<float>() : nullptr, B, T, d,
                                    hb.as<float>() + d, sb.as<int32_t>(), stride, alias.as<float>()});
          EXPECT_LE(normwise_error(get<float>(*be_, alias, n * d), want_out), 1e-6) << "aliased, d=" << d;
        }
  std::printf("[ metric ] %s mlgru_scan worst normwise error %.3g (bound 1e-6)\n", GetParam().name.c_str(), worst);
}

TEST_P(BackendOps, ReserveOnlyGrows) {
  // A model plans its scratch once; a later, smaller reserve (a second workspace) must not cut it.
  const PackedCase p = pack(TernaryFormat::I8, 30, 300, 5);
  const auto x = randn(20 * 300, 6), norm = randn(300, 7);
  for (Backend* be : {static_cast<Backend*>(&ref_), be_.get()}) {
    be->reserve(20, 300);
    be->reserve(1, 7);
    const auto w = be->upload_matrix(p.w, p.s_w);
    const Buffer xb = put(*be, x), nb = put(*be, norm);
    Buffer y = be->alloc(20 * 30 * 4);
    const BitLinearCall c{w.get(), nb.as<float>(), y.as<float>()};
    EXPECT_NO_THROW(be->bitlinear({&c, 1}, plain(xb.as<float>(), 300), 20)) << be->name();
  }
}

TEST_P(BackendOps, RecordingsSurviveAGrowingReserve) {
  // A recording names the scratch it ran on. A reserve that reallocates the scratch must not leave
  // a replay writing the freed memory, which the next allocations are likely to hold.
  const PackedCase p = pack(TernaryFormat::TQ2_0_R8, 64, 256, 3);
  const auto x = randn(256, 4), norm = randn(256, 5);
  be_->reserve(1, 256);
  const auto w = be_->upload_matrix(p.w, p.s_w);
  const Buffer xb = put(*be_, x), nb = put(*be_, norm);
  Buffer y = be_->alloc(64 * 4);
  struct Ctx {
    Backend* be;
    BitLinearCall call;
    BitLinearInput in;
  } ctx{be_.get(), {w.get(), nb.as<float>(), y.as<float>()}, plain(xb.as<float>(), 256)};
  const RecordingKey key{1, 1, 1, 0};
  auto step = [](void* c) {
    auto* s = static_cast<Ctx*>(c);
    s->be->bitlinear({&s->call, 1}, s->in, 1);
  };
  be_->run_recorded(key, step, &ctx);
  const auto want = get<float>(*be_, y, 64);
  be_->reserve(64, 4096);
  const std::vector<uint8_t> pattern(256, 0x5a);
  std::vector<Buffer> others;
  for (int i = 0; i < 64; ++i) others.push_back(put(*be_, pattern));
  be_->run_recorded(key, step, &ctx);
  EXPECT_EQ(get<float>(*be_, y, 64), want);
  int64_t changed = 0;
  for (const Buffer& b : others) changed += get<uint8_t>(*be_, b, 256) != pattern;
  EXPECT_EQ(changed, 0) << "buffers written by a replay after the reserve";
}

TEST_P(BackendOps, EmbedAndMemoryMatchRef) {
  const auto want = randn(1001, 1);
  const Buffer xb = put(*be_, want);
  // Embedding rows of an F32 table.
  const int64_t rows = 11, cols = 37;
  const auto table = randn(rows * cols, 3);
  const EmbeddingTable t(GgmlType::F32, reinterpret_cast<const uint8_t*>(table.data()), rows, cols);
  const std::vector<int32_t> ids = {10, 0, 3, 3, 7};
  const auto er = ref_.upload_embeddings(t);
  const auto eb = be_->upload_embeddings(t);
  std::vector<float> want_e(ids.size() * cols);
  ref_.embed(*er, ids.data(), 5, want_e.data());
  const Buffer idb = put(*be_, ids);
  Buffer out = be_->alloc(5 * cols * 4);
  be_->embed(*eb, idb.as<int32_t>(), 5, out.as<float>());
  EXPECT_EQ(get<float>(*be_, out, 5 * cols), want_e);
  // copy and fill_zero.
  Buffer c = be_->alloc(1001 * 4);
  be_->copy(c.as<void>(), xb.as<void>(), 1001 * 4);
  EXPECT_EQ(get<float>(*be_, c, 1001), want);
  be_->fill_zero(c.as<float>() + 1, 4 * 4);
  const auto z = get<float>(*be_, c, 6);
  EXPECT_EQ(z[0], want[0]);
  EXPECT_EQ(z[1] + z[2] + z[3] + z[4], 0.0f);
  EXPECT_EQ(z[5], want[5]);
}

// The sampler's choices (backend/select_top.h) against a plain oracle: every token's penalised,
// divided logit, a full sort by (logit descending, id ascending), the first k. Logits on a grid of
// eighths (many ties, at the threshold too), both zeros, a row of one repeated value; k from 1 to
// past the CUDA kernel's 256 (its fallback) and the whole vocabulary. Exact: the same ids, equal
// values (the division is IEEE-rounded on every backend; -0 and +0 compare equal).
TEST_P(BackendOps, SelectTopMatchesASortedOracle) {
  std::mt19937 rng(17);
  for (int64_t V : {3000, 32000}) {
    const int64_t rows = 4;
    std::vector<float> logits(static_cast<size_t>(rows * V));
    std::normal_distribution<float> nd(0.0f, 3.0f);
    for (auto& l : logits) l = std::round(nd(rng) * 8.0f) / 8.0f;
    for (int64_t v = 0; v < V; v += 97) logits[static_cast<size_t>(v)] = (v / 97) % 2 ? -0.0f : 0.0f;
    std::fill(logits.begin() + 2 * V, logits.begin() + 3 * V, 1.25f);  // row 2: every token ties
    const Buffer lb = put(*be_, logits);
    std::vector<std::vector<int32_t>> pen(rows);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < 20 * r; ++i) pen[static_cast<size_t>(r)].push_back(static_cast<int32_t>((i * 131 + r) % V));
    for (float temperature : {0.0f, 0.7f, 1.5f})
      for (int64_t k : {int64_t{1}, int64_t{7}, int64_t{40}, int64_t{256}, int64_t{257}, V}) {
        if (V == 32000 && k > 256) continue;
        SCOPED_TRACE("V " + std::to_string(V) + ", temperature " + std::to_string(temperature) + ", k " + std::to_string(k));
        std::vector<ChoiceRow> how;
        for (int64_t r = 0; r < rows; ++r) how.push_back({pen[static_cast<size_t>(r)], r % 2 ? 1.3f : 1.0f, temperature});
        std::vector<TokenChoice> got(static_cast<size_t>(rows * k));
        be_->select_top(lb.as<float>(), V, how, k, got.data());
        for (int64_t r = 0; r < rows; ++r) {
          std::vector<TokenChoice> all(static_cast<size_t>(V));
          for (int64_t v = 0; v < V; ++v) all[static_cast<size_t>(v)] = {static_cast<int32_t>(v), logits[static_cast<size_t>(r * V + v)]};
          if (how[static_cast<size_t>(r)].penalty != 1.0f)
            for (int32_t id : pen[static_cast<size_t>(r)]) {
              float& l = all[static_cast<size_t>(id)].logit;
              l = l > 0 ? l / 1.3f : l * 1.3f;
            }
          if (temperature > 0)
            for (auto& c : all) c.logit /= temperature;
          std::sort(all.begin(), all.end(), [](const TokenChoice& a, const TokenChoice& b) {
            return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
          });
          int64_t wrong = 0;
          for (int64_t i = 0; i < k; ++i) {
            const TokenChoice& g = got[static_cast<size_t>(r * k + i)];
            wrong += g.id != all[static_cast<size_t>(i)].id || !(g.logit == all[static_cast<size_t>(i)].logit);
          }
          EXPECT_EQ(wrong, 0) << "row " << r;
        }
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendOps, ::testing::ValuesIn(backends_under_test()),
                         [](const ::testing::TestParamInfo<BackendCase>& i) { return i.param.name; });

}  // namespace
}  // namespace mmfree
