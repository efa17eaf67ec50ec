// Each sampling filter on a known distribution, against the probabilities worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "generate/sampler.h"
#include "util/error.h"

namespace mmfree {
namespace {

// Ids 0..5; 5 is the most likely, then 0, 1, 2, 3, 4.
const std::vector<float> kLogits = {2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 3.0f};

SamplerOptions plain(float temperature = 1.0f) {
  SamplerOptions o;
  o.temperature = temperature;
  o.top_k = 0;
  o.top_p = 1;
  o.min_p = 0;
  o.repeat_penalty = 1;
  o.seed = 1;
  return o;
}

// softmax(logits[ids] / t) over the ids given, computed directly.
std::map<int32_t, double> softmax(const std::vector<int32_t>& ids, const std::vector<float>& logits, double t = 1) {
  double z = 0;
  for (int32_t id : ids) z += std::exp(logits[id] / t);
  std::map<int32_t, double> p;
  for (int32_t id : ids) p[id] = std::exp(logits[id] / t) / z;
  return p;
}

void expect_distribution(Sampler& s, const std::vector<float>& logits, const std::map<int32_t, double>& want) {
  const auto got = s.distribution(logits.data());
  ASSERT_EQ(got.size(), want.size());
  for (const auto& c : got) {
    ASSERT_TRUE(want.count(c.id)) << "token " << c.id << " should have been cut";
    EXPECT_NEAR(c.p, want.at(c.id), 1e-6) << "token " << c.id;
  }
}

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
  Sampler s(plain(0), 6);
  EXPECT_EQ(s.sample(kLogits.data()), 5);
  const std::vector<float> tie = {1, 3, 3, 0};
  Sampler t(plain(0), 4);
  EXPECT_EQ(t.sample(tie.data()), 1);
}

TEST(Sampler, TemperatureScalesLogits) {
  Sampler s(plain(0.5f), 6);
  expect_distribution(s, kLogits, softmax({0, 1, 2, 3, 4, 5}, kLogits, 0.5));
}

TEST(Sampler, TopKNeverPicksOutsideTheTopK) {
  SamplerOptions o = plain();
  o.top_k = 2;
  Sampler s(o, 6);
  expect_distribution(s, kLogits, softmax({5, 0}, kLogits));
  int top = 0;
  const int draws = 5000;
  for (int i = 0; i < draws; ++i) {
    const int64_t t = s.sample(kLogits.data());
    ASSERT_TRUE(t == 5 || t == 0) << "drew " << t;
    top += t == 5;
  }
  // p(5) = e^3 / (e^3 + e^2) = 0.731; 5000 draws put the frequency within 0.03 of it (5 sigma).
  EXPECT_NEAR(static_cast<double>(top) / draws, 0.7311, 0.03);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  // Probabilities 0.605, 0.222, 0.082, ...: 0.8 needs two tokens, 0.9 three.
  SamplerOptions o = plain();
  o.top_p = 0.8f;
  Sampler two(o, 6);
  expect_distribution(two, kLogits, softmax({5, 0}, kLogits));
  o.top_p = 0.9f;
  Sampler three(o, 6);
  expect_distribution(three, kLogits, softmax({5, 0, 1}, kLogits));
}

TEST(Sampler, MinPCutsBelowAFractionOfTheTop) {
  // Kept: p >= 0.1 * p(5), i.e. logit >= 3 + ln 0.1 = 0.70: ids 5, 0, 1.
  SamplerOptions o = plain();
  o.min_p = 0.1f;
  Sampler s(o, 6);
  expect_distribution(s, kLogits, softmax({5, 0, 1}, kLogits));
  for (int i = 0; i < 1000; ++i) {
    const int64_t t = s.sample(kLogits.data());
    ASSERT_TRUE(t == 5 || t == 0 || t == 1) << "drew " << t;
  }
}

TEST(Sampler, RepetitionPenaltyOverTheWindow) {
  SamplerOptions o = plain();
  o.repeat_penalty = 2;
  o.repeat_last_n = 3;
  Sampler s(o, 6);
  s.accept(0);
  s.accept(4);
  s.accept(0);  // repeated: still penalised once
  // Token 0's positive logit is halved (2 -> 1), token 4's negative one doubled (-1 -> -2).
  const std::vector<float> by_hand = {1.0f, 1.0f, 0.5f, 0.0f, -2.0f, 3.0f};
  expect_distribution(s, kLogits, softmax({0, 1, 2, 3, 4, 5}, by_hand));
  // Three more tokens push 0 and 4 out of the window.
  s.accept(3);
  s.accept(3);
  s.accept(2);
  const std::vector<float> later = {2.0f, 1.0f, 0.25f, 0.0f, -1.0f, 3.0f};
  expect_distribution(s, kLogits, softmax({0, 1, 2, 3, 4, 5}, later));
  // Greedy sees the penalty too: 5 (3 -> 1.5) loses to 0 (2).
  SamplerOptions g = o;
  g.temperature = 0;
  Sampler greedy(g, 6);
  greedy.accept(5);
  EXPECT_EQ(greedy.sample(kLogits.data()), 0);
}

TEST(Sampler, SameSeedSameSequence) {
  SamplerOptions o = plain();
  std::vector<int64_t> a, b, c;
  Sampler s1(o, 6), s2(o, 6);
  o.seed = 2;
  Sampler s3(o, 6);
  for (int i = 0; i < 200; ++i) {
    a.push_back(s1.sample(kLogits.data()));
    b.push_back(s2.sample(kLogits.data()));
    c.push_back(s3.sample(kLogits.data()));
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Sampler, BadOptions) {
  const auto message = [](SamplerOptions o) {
    try {
      Sampler s(o, 6);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  SamplerOptions o = plain();
  o.temperature = -1;
  EXPECT_EQ(message(o), "--temperature must be a number >= 0");
  o = plain();
  o.top_p = 0;
  EXPECT_EQ(message(o), "--top-p must be in (0, 1] (1 keeps every token)");
  o = plain();
  o.min_p = 1.5f;
  EXPECT_EQ(message(o), "--min-p must be in [0, 1] (0 keeps every token)");
  o = plain();
  o.top_k = -3;
  EXPECT_EQ(message(o), "--top-k must be >= 0 (0 keeps every token)");
  o = plain();
  o.repeat_penalty = 0;
  EXPECT_EQ(message(o), "--repeat-penalty must be a number > 0 (1 is off)");
  o = plain();
  o.repeat_last_n = -1;
  EXPECT_EQ(message(o), "--repeat-last-n must be >= 0");
}

}  // namespace
}  // namespace mmfree
