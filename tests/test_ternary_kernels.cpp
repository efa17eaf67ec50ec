// Every ternary kernel (format x instruction set, with and without threads) against the plain
// reference ternary_matmul_ref on random inputs: integer sums bit-identical, odd sizes included.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/chunk_plan.h"
#include "kernels/ternary_matmul.h"
#include "kernels/ternary_ref.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace mmfree {
namespace {

struct Problem {
  int64_t m, k, n;
};

struct Data {
  std::vector<int8_t> w, q;
  std::vector<uint8_t> packed;
  std::vector<int32_t> want;
};

// Extreme values on purpose: activations at -128 / 127 and rows of all +1 or all -1 reach the
// largest sums, where a saturating or overflowing lane would show.
Data make_data(TernaryFormat f, const Problem& p, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> tern(-1, 1), act(-128, 127), pick(0, 9);
  Data d;
  d.w.resize(static_cast<size_t>(p.m * p.k));
  for (int64_t r = 0; r < p.m; ++r) {
    const int kind = pick(rng);
    for (int64_t i = 0; i < p.k; ++i)
      d.w[r * p.k + i] = static_cast<int8_t>(kind == 0 ? 1 : kind == 1 ? -1 : tern(rng));
  }
  d.q.resize(static_cast<size_t>(p.n * p.k));
  for (int64_t t = 0; t < p.n; ++t) {
    const int kind = pick(rng);
    for (int64_t i = 0; i < p.k; ++i) d.q[t * p.k + i] = static_cast<int8_t>(kind == 0 ? -128 : kind == 1 ? 127 : act(rng));
  }
  d.packed = pack_ternary(f, d.w.data(), p.m, p.k, 1.0f);
  d.want.resize(static_cast<size_t>(p.n * p.m));
  ternary_matmul_ref(d.w.data(), p.m, p.k, d.q.data(), p.n, d.want.data());
  return d;
}

std::string label(TernaryFormat f, Isa isa, const Problem& p, int threads) {
  return std::string(format_name(f)) + " " + isa_name(isa) + " m=" + std::to_string(p.m) + " k=" + std::to_string(p.k) +
         " n=" + std::to_string(p.n) + " threads=" + std::to_string(threads);
}

void check_isa(Isa isa, TernaryFormat f, const std::vector<Problem>& problems) {
  ThreadPool pool(3);
  uint32_t seed = 1;
  for (const Problem& p : problems) {
    const Data d = make_data(f, p, seed++);
    const TernaryMatrix w{f, d.packed.data(), p.m, p.k};
    ActivationBuffer buf;
    buf.reserve(p.n, p.k);
    const PreparedActivations x = buf.prepare(f, d.q.data(), p.n, p.k);
    for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
      std::vector<int32_t> got(d.want.size(), 0x5a5a5a5a);
      ternary_matmul(w, x, MatmulOutput{got.data()}, tp, isa);
      ASSERT_EQ(got, d.want) << label(f, isa, p, tp ? tp->size() : 1);
    }
  }
}

// m odd and not a multiple of any row tile; n odd, 1 (decode), and past one L2 token block
// (256 KiB / 2816 bytes = 90 tokens for TQ2_0); the last problems of each list are big enough
// (>= 2^18 multiply-adds) to be split over the pool's threads.
const std::vector<Problem> kTqProblems = {{1, 256, 1},  {3, 256, 1},   {37, 512, 1},  {67, 768, 1},   {5, 2816, 1},
                                          {7, 256, 2},  {9, 512, 5},   {33, 768, 7},  {13, 2816, 13}, {11, 1024, 6},
                                          {4, 256, 12}, {6, 2816, 97}, {29, 512, 1},  {517, 768, 1}, {37, 256, 31}};

// One instance per instruction set; a set this CPU lacks is skipped, and says so.
class TernaryKernelsOn : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_available(GetParam())) GTEST_SKIP() << isa_name(GetParam()) << " is not available on this CPU: not tested";
  }
};

TEST_P(TernaryKernelsOn, Tq2MatchesReference) { check_isa(GetParam(), TernaryFormat::TQ2_0, kTqProblems); }
// m not a multiple of 8 leaves a last TQ2_0_R8 group of fewer rows (37 = 4 x 8 + 5, 517 = 64 x 8 + 5);
// 29 = 3 x 8 + 5 leaves one whole group outside the decode's pairs of streams.
TEST_P(TernaryKernelsOn, Tq2R8MatchesReference) { check_isa(GetParam(), TernaryFormat::TQ2_0_R8, kTqProblems); }
TEST_P(TernaryKernelsOn, Tq1MatchesReference) { check_isa(GetParam(), TernaryFormat::TQ1_0, kTqProblems); }
TEST_P(TernaryKernelsOn, I8MatchesReference) {
  check_isa(GetParam(), TernaryFormat::I8, {{1, 1, 1},
                                     {3, 63, 1},
                                     {5, 64, 1},
                                     {7, 65, 3},
                                     {9, 128, 5},
                                     {33, 200, 7},
                                     {17, 2823, 1},
                                     {3, 1000, 13},
                                     {129, 128, 37},
                                     {301, 1000, 1}});
}

INSTANTIATE_TEST_SUITE_P(AllIsas, TernaryKernelsOn, ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(isa_name(i.param)); });

TEST(TernaryKernels, FloatOutputMatchesBitLinearScaling) {
  const Problem p{19, 512, 3};
  const Data d = make_data(TernaryFormat::TQ2_0, p, 77);
  const std::vector<float> s_x = {0.37f, 12.5f, 1e-3f};
  const float s_w = 1.7f;
  ActivationBuffer buf;
  buf.reserve(p.n, p.k);
  const PreparedActivations x = buf.prepare(TernaryFormat::TQ2_0, d.q.data(), p.n, p.k);
  for (Isa isa : available_isas()) {
    std::vector<float> y(static_cast<size_t>(p.n * p.m));
    ternary_matmul(TernaryMatrix{TernaryFormat::TQ2_0, d.packed.data(), p.m, p.k}, x, MatmulOutput{nullptr, y.data(), s_x.data(), s_w},
                   nullptr, isa);
    for (int64_t t = 0; t < p.n; ++t)
      for (int64_t o = 0; o < p.m; ++o)
        ASSERT_EQ(y[t * p.m + o], static_cast<float>(d.want[t * p.m + o]) / (s_x[t] * s_w)) << isa_name(isa);
  }
}

// A batch of products in one parallel pass equals the reference for each: row counts that are not
// multiples of 16 (nor of TQ2_0_R8's groups of 8) put the later products at padded offsets, and
// the chunks of the pass (> 128 KiB of weights in all: several chunks) cross from one product into
// the next.
TEST(TernaryKernels, BatchEqualsEachProductAlone) {
  ThreadPool pool(3);
  for (TernaryFormat f : {TernaryFormat::TQ2_0_R8, TernaryFormat::TQ2_0, TernaryFormat::I8})
    for (Isa isa : available_isas()) {
      const std::vector<Problem> problems = {{37, 512, 1}, {203, 768, 1}, {1031, 2816, 1}, {21, 768, 1}};
      std::vector<Data> data;
      std::vector<ActivationBuffer> bufs(problems.size());
      std::vector<PreparedActivations> xs;
      std::vector<TernaryMatrix> ws;
      std::vector<std::vector<int32_t>> got;
      for (size_t i = 0; i < problems.size(); ++i) {
        const Problem& p = problems[i];
        data.push_back(make_data(f, p, static_cast<uint32_t>(100 + i)));
        bufs[i].reserve(p.n, p.k);
        xs.push_back(bufs[i].prepare(f, data[i].q.data(), p.n, p.k));
        got.emplace_back(static_cast<size_t>(p.m * p.n), 0x5a5a5a5a);
      }
      for (size_t i = 0; i < problems.size(); ++i) ws.push_back(TernaryMatrix{f, data[i].packed.data(), problems[i].m, problems[i].k});
      std::vector<MatmulTask> tasks;
      for (size_t i = 0; i < problems.size(); ++i) tasks.push_back(MatmulTask{&ws[i], &xs[i], MatmulOutput{got[i].data()}});
      // As in decoding: the previous product announced this one to the waiting workers.
      ternary_prefetch_next(ws, &pool, isa);
      ternary_matmul_batch(tasks, &pool, isa);
      ternary_prefetch_next(ws, &pool, isa);
      for (size_t i = 0; i < problems.size(); ++i) ASSERT_EQ(got[i], data[i].want) << format_name(f) << " " << isa_name(isa) << " product " << i;
    }
}

// The chunks of a parallel pass tile the rows in order, end on multiples of 16, shrink towards the
// end, and none but the last is under the floor; a pass too small to split is one chunk.
TEST(TernaryKernels, ChunkPlanTilesTheRows) {
  for (int threads : {1, 2, 3, 16})
    for (int64_t rows : {int64_t{16}, int64_t{2560}, int64_t{7680}, int64_t{13824}, int64_t{1} << 20}) {
      const int64_t bytes = rows * 640, min_bytes = 128 * 1024;
      const ChunkPlan p = plan_chunks(rows, bytes, threads, min_bytes);
      const std::string at = "rows=" + std::to_string(rows) + " threads=" + std::to_string(threads);
      ASSERT_GE(p.count, 1) << at;
      ASSERT_LE(p.count, kMaxChunks) << at;
      ASSERT_EQ(p.end[p.count - 1], rows) << at;
      int64_t prev_end = 0, prev_size = rows;
      for (int c = 0; c < p.count; ++c) {
        const int64_t size = p.end[c] - prev_end;
        ASSERT_GT(size, 0) << at << " chunk " << c;
        ASSERT_EQ(p.end[c] % 16, 0) << at << " chunk " << c;
        if (c + 1 < p.count) {
          ASSERT_GE(size * 640, min_bytes) << at << " chunk " << c;
          ASSERT_LE(size, prev_size) << at << " chunk " << c;
        }
        prev_end = p.end[c];
        prev_size = size;
      }
      if (rows * 640 >= 4 * min_bytes * threads && threads > 1) {
        EXPECT_GE(p.count, 2 * threads) << at;
      }
    }
  EXPECT_EQ(plan_chunks(16, 16 * 640, 2, 128 * 1024).count, 1);
}

TEST(TernaryKernels, MismatchedActivationsAreRejected) {
  const Data d = make_data(TernaryFormat::TQ2_0, {2, 256, 1}, 5);
  ActivationBuffer buf;
  buf.reserve(1, 256);
  const PreparedActivations x = buf.prepare(TernaryFormat::TQ1_0, d.q.data(), 1, 256);
  std::vector<int32_t> y(2);
  EXPECT_THROW(ternary_matmul(TernaryMatrix{TernaryFormat::TQ2_0, d.packed.data(), 2, 256}, x, MatmulOutput{y.data()}, nullptr),
               Error);
}

}  // namespace
}  // namespace mmfree
