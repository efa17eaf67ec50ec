// The reference forward pass against the original implementation's outputs on tiny_a.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "format/safetensors.h"
#include "model/model.h"
#include "test_util.h"

namespace mmfree {
namespace {

class GoldenForward : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = Model::load(test::tiny_a());
    golden_ = std::make_unique<SafetensorsFile>(test::tiny_a() + "/golden.safetensors");
  }
  static void TearDownTestSuite() {
    model_.reset();
    golden_.reset();
  }
  static std::unique_ptr<Model> model_;
  static std::unique_ptr<SafetensorsFile> golden_;
};
std::unique_ptr<Model> GoldenForward::model_;
std::unique_ptr<SafetensorsFile> GoldenForward::golden_;

TEST_F(GoldenForward, FullSequenceLogits) {
  const auto ids = golden_->get("input_ids").to_i64();
  const auto want = golden_->get("logits").to_f32();
  const auto& shape = golden_->get("input_ids").shape;
  const int64_t B = shape[0], T = shape[1], V = model_->config().vocab_size;
  StatePool st(*model_, B);
  Workspace ws(*model_, B * T);
  std::vector<float> logits(static_cast<size_t>(B * T * V));
  model_->forward(ids.data(), B, T, st, ws, logits.data(), true);
  auto c = test::compare_logits(logits.data(), want.data(), B * T, V);
  std::printf("[ metric ] full-sequence logits vs golden: %s\n", test::describe(c).c_str());
  test::expect_matches_original(c);
}

TEST_F(GoldenForward, TokenByTokenMatchesFullSequence) {
  const auto ids = golden_->get("input_ids").to_i64();
  const auto& shape = golden_->get("input_ids").shape;
  const int64_t B = shape[0], T = shape[1], V = model_->config().vocab_size;
  StatePool full_state(*model_, B);
  Workspace ws(*model_, B * T);
  std::vector<float> full(static_cast<size_t>(B * T * V)), stepped(full.size());
  model_->forward(ids.data(), B, T, full_state, ws, full.data(), true);
  // Both sequences decoded together, one token at a time, through the recurrent state.
  StatePool st(*model_, B);
  std::vector<int64_t> step_ids(static_cast<size_t>(B));
  std::vector<float> step_logits(static_cast<size_t>(B * V));
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t b = 0; b < B; ++b) step_ids[b] = ids[b * T + t];
    model_->forward(step_ids.data(), B, 1, st, ws, step_logits.data(), false);
    for (int64_t b = 0; b < B; ++b)
      std::copy_n(step_logits.data() + b * V, V, stepped.data() + (b * T + t) * V);
  }
  auto c = test::compare_logits(stepped.data(), full.data(), B * T, V);
  std::printf("[ metric ] token-by-token vs full sequence: %s\n", test::describe(c).c_str());
  // One implementation, two paths through the same arithmetic: measured 0 at every position.
  EXPECT_LE(c.worst, 1e-6) << test::describe(c);
  EXPECT_EQ(st.snapshot(), full_state.snapshot());
}

// A sequence longer than the workspace runs in chunks: the same logits and state, bit for bit.
TEST_F(GoldenForward, ChunkedSequenceEqualsWholeSequence) {
  const auto ids = golden_->get("input_ids").to_i64();
  const int64_t T = golden_->get("input_ids").shape[1], V = model_->config().vocab_size;  // first sequence
  StatePool whole_state(*model_, 1), chunked_state(*model_, 1);
  Workspace big(*model_, T), small(*model_, 8);  // 37 tokens: chunks 8, 8, 8, 8, 5
  std::vector<float> whole(static_cast<size_t>(T * V)), chunked(whole.size(), NAN);
  model_->forward(ids.data(), 1, T, whole_state, big, whole.data(), true);
  model_->forward(ids.data(), 1, T, chunked_state, small, chunked.data(), true);
  EXPECT_EQ(chunked, whole);
  EXPECT_EQ(chunked_state.snapshot(), whole_state.snapshot());
  // Last position only: the logits of the last chunk's last token.
  std::vector<float> last(static_cast<size_t>(V));
  chunked_state.reset_all();
  model_->forward(ids.data(), 1, T, chunked_state, small, last.data(), false);
  EXPECT_TRUE(std::equal(last.begin(), last.end(), whole.end() - V));
  EXPECT_EQ(chunked_state.snapshot(), whole_state.snapshot());
}

TEST_F(GoldenForward, GreedyDecodingMatchesGolden) {
  const auto prompt = golden_->get("prompt_ids").to_i64();
  const auto want_ids = golden_->get("greedy_ids").to_i64();
  const auto want_logits = golden_->get("greedy_step_logits").to_f32();
  const int64_t V = model_->config().vocab_size, P = static_cast<int64_t>(prompt.size());
  const int64_t N = static_cast<int64_t>(want_ids.size());
  StatePool st(*model_, 1);
  Workspace ws(*model_, P);
  std::vector<float> step_logits(static_cast<size_t>(V)), all(static_cast<size_t>(N * V));
  std::vector<int64_t> got;
  model_->forward(prompt.data(), 1, P, st, ws, step_logits.data(), false);
  for (int64_t i = 0; i < N; ++i) {
    std::copy_n(step_logits.data(), V, all.data() + i * V);
    int64_t next = std::max_element(step_logits.begin(), step_logits.end()) - step_logits.begin();
    got.push_back(next);
    model_->forward(&next, 1, 1, st, ws, step_logits.data(), false);
  }
  EXPECT_EQ(got, want_ids);
  auto c = test::compare_logits(all.data(), want_logits.data(), N, V);
  std::printf("[ metric ] greedy step logits vs golden: %s\n", test::describe(c).c_str());
  test::expect_matches_original(c);
}

}  // namespace
}  // namespace mmfree
