// Token requests as the harness builds them: _encode_pair with a BOS-adding tokenizer, the
// rolling windows of loglikelihood_rolling, and the shared-prefix plan of an item's choices.
#include <gtest/gtest.h>

#include "eval/requests.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace mmfree {
namespace {

std::vector<std::string> pieces(const Tokenizer& tok, const std::vector<int64_t>& ids) {
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(tok.piece(static_cast<int32_t>(id)));
  return out;
}

using Pieces = std::vector<std::string>;

TEST(EvalRequests, EncodePairAsTheHarness) {
  const auto tok = load_tokenizer(test::shared_dir() + "/tokenizers/llama/tokenizer.model");
  // The context gets BOS; the continuation is what tok(context + continuation) adds after it.
  auto r = eval::encode_pair(*tok, {"Question: Is it?\nAnswer:", " yes"});
  EXPECT_EQ(pieces(*tok, r.context), (Pieces{"<s>", "▁Question", ":", "▁Is", "▁it", "?", "<0x0A>", "Answer", ":"}));
  EXPECT_EQ(pieces(*tok, r.continuation), (Pieces{"▁yes"}));
  // Trailing whitespace of the context moves to the continuation ("Answer: " + "yes").
  r = eval::encode_pair(*tok, {"Answer: ", "yes"});
  EXPECT_EQ(pieces(*tok, r.context), (Pieces{"<s>", "▁Answer", ":"}));
  EXPECT_EQ(pieces(*tok, r.continuation), (Pieces{"▁yes"}));
  // An empty context is BOS alone, and the continuation has no BOS of its own.
  r = eval::encode_pair(*tok, {"", " yes"});
  EXPECT_EQ(pieces(*tok, r.context), (Pieces{"<s>"}));
  EXPECT_EQ(pieces(*tok, r.continuation), (Pieces{"▁", "▁yes"}));
}

TEST(EvalRequests, RollingWindowsAsGetRollingTokenWindows) {
  // Hand-computed from lm_eval/utils.py get_rolling_token_windows(context_len=1) + make_disjoint_window,
  // tokens 1..10, max_seq_len 4, prefix 0.
  std::vector<int64_t> t = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const auto w = eval::rolling_windows(t, 0, 4);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].context, (std::vector<int64_t>{0}));
  EXPECT_EQ(w[0].continuation, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(w[1].context, (std::vector<int64_t>{4}));
  EXPECT_EQ(w[1].continuation, (std::vector<int64_t>{5, 6, 7, 8}));
  EXPECT_EQ(w[2].context, (std::vector<int64_t>{6, 7, 8}));  // the last window reads more context
  EXPECT_EQ(w[2].continuation, (std::vector<int64_t>{9, 10}));
  // Shorter than a window: one window.
  const auto one = eval::rolling_windows({5, 6}, 1, 4);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].context, (std::vector<int64_t>{1}));
  EXPECT_EQ(one[0].continuation, (std::vector<int64_t>{5, 6}));
  EXPECT_TRUE(eval::rolling_windows({}, 1, 4).empty());
}

TEST(EvalRequests, PlanSharesTheCommonPrefixAndTruncatesOnTheLeft) {
  // Choices that share the context and the first continuation token: the shared part stops one
  // token before the earliest scored position.
  std::vector<eval::TokenRequest> reqs = {{{1, 2, 3}, {7, 8}}, {{1, 2, 3}, {7, 9, 10}}};
  auto p = eval::plan_item(reqs, 2048, true);
  EXPECT_EQ(p.prefix, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(p.continuations[0].input, (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(p.continuations[0].targets, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(p.continuations[1].input, (std::vector<int64_t>{3, 7, 9}));
  EXPECT_EQ(p.continuations[1].targets, (std::vector<int64_t>{7, 9, 10}));
  // WinoGrande-style: contexts differ after a common start.
  reqs = {{{1, 2, 5}, {9}}, {{1, 2, 6, 6}, {9}}};
  p = eval::plan_item(reqs, 2048, true);
  EXPECT_EQ(p.prefix, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(p.continuations[1].input, (std::vector<int64_t>{6, 6}));
  // (context + continuation)[-(max_length + 1):][:-1]
  p = eval::plan_item({{{1, 2, 3, 4, 5}, {6, 7}}}, 4, false);
  EXPECT_TRUE(p.prefix.empty());
  EXPECT_EQ(p.continuations[0].input, (std::vector<int64_t>{3, 4, 5, 6}));
  EXPECT_EQ(p.continuations[0].targets, (std::vector<int64_t>{6, 7}));
  EXPECT_THROW(eval::plan_item({{{1}, {2, 3, 4}}}, 2, true), Error);  // continuation longer than the window
  EXPECT_THROW(eval::plan_item({{{1}, {}}}, 8, true), Error);
}

}  // namespace
}  // namespace mmfree
