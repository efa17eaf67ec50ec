// Sequences at different positions, each in its own state slot, decoded together in one batch,
// get exactly the tokens and logits they get alone: rows of a batch never mix (per-row
// quantisation, per-sequence states), on every device.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "model/model.h"
#include "test_util.h"
#include "util/error.h"

namespace mmfree {
namespace {

int64_t argmax(const float* v, int64_t n) { return std::max_element(v, v + n) - v; }

struct Decoded {
  std::vector<int64_t> ids;
  std::vector<float> logits;  // [steps][V]
};

// One sequence alone: prefill, then `steps` greedy tokens one at a time.
Decoded alone(const Model& m, const std::vector<int64_t>& prompt, int64_t steps) {
  const int64_t V = m.config().vocab_size;
  StatePool st(m, 1);
  Workspace ws(m, static_cast<int64_t>(prompt.size()));
  std::vector<float> logits(static_cast<size_t>(V));
  m.forward(prompt.data(), 1, static_cast<int64_t>(prompt.size()), st, ws, logits.data(), false);
  Decoded d;
  for (int64_t s = 0; s < steps; ++s) {
    d.logits.insert(d.logits.end(), logits.begin(), logits.end());
    int64_t next = argmax(logits.data(), V);
    d.ids.push_back(next);
    m.forward(&next, 1, 1, st, ws, logits.data(), false);
  }
  return d;
}

class BatchedDecode : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    try {
      make_backend(DeviceOptions{.device = GetParam(), .threads = 1, .isa = ""});
    } catch (const Error& e) {
      GTEST_SKIP() << GetParam() << " cannot run here: " << e.what();
    }
  }
};

TEST_P(BatchedDecode, EachSequenceGetsWhatItGetsAlone) {
  const auto m = Model::load(test::tiny_a(), DeviceOptions{.device = GetParam(), .threads = 2, .isa = ""});
  const int64_t V = m->config().vocab_size, steps = 12;
  const std::vector<std::vector<int64_t>> prompts = {{1, 17, 33, 4, 5, 6, 7}, {1, 300}, {1, 9, 9, 9, 200, 401, 2, 3, 77, 12, 6}};
  const int64_t B = static_cast<int64_t>(prompts.size());
  // Slots out of order, in a pool with spare slots: the batch names where each state lives.
  const std::vector<int32_t> slots = {3, 0, 2};
  StatePool st(*m, 5);
  Workspace ws(*m, 16);
  std::vector<float> logits(static_cast<size_t>(B * V));
  std::vector<int64_t> next(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {  // each prompt prefilled into its slot
    m->forward(prompts[b].data(), 1, static_cast<int64_t>(prompts[b].size()), {&slots[b], 1}, st, ws,
               logits.data() + b * V, false);
  }
  std::vector<Decoded> together(static_cast<size_t>(B));
  for (int64_t s = 0; s < steps; ++s) {
    for (int64_t b = 0; b < B; ++b) {
      const float* l = logits.data() + b * V;
      together[b].logits.insert(together[b].logits.end(), l, l + V);
      next[b] = argmax(l, V);
      together[b].ids.push_back(next[b]);
    }
    m->forward(next.data(), B, 1, slots, st, ws, logits.data(), false);  // one step of all three
  }
  for (int64_t b = 0; b < B; ++b) {
    const Decoded want = alone(*m, prompts[b], steps);
    EXPECT_EQ(together[b].ids, want.ids) << "sequence " << b;
    EXPECT_EQ(together[b].logits, want.logits) << "sequence " << b;  // bit for bit
  }
}

TEST_P(BatchedDecode, SlotsAreCheckedAndCopied) {
  const auto m = Model::load(test::tiny_a(), DeviceOptions{.device = GetParam(), .threads = 1, .isa = ""});
  const int64_t V = m->config().vocab_size;
  StatePool st(*m, 3);
  Workspace ws(*m, 4);
  std::vector<float> a(static_cast<size_t>(2 * V)), b(a.size());
  const std::vector<int64_t> ctx = {1, 50, 60}, two = {5, 6};
  const int32_t s0 = 0;
  m->forward(ctx.data(), 1, 3, {&s0, 1}, st, ws, a.data(), false);
  st.copy(0, 1);  // one context, two continuations
  const std::vector<int32_t> both = {0, 1};
  m->forward(two.data(), 2, 1, both, st, ws, b.data(), false);
  StatePool solo(*m, 1);
  std::vector<float> want(static_cast<size_t>(V));
  const std::vector<int64_t> ctx5 = {1, 50, 60, 5};
  m->forward(ctx5.data(), 1, 4, solo, ws, want.data(), false);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), b.begin()));
  const std::vector<int32_t> same = {1, 1};
  EXPECT_THROW(m->forward(two.data(), 2, 1, same, st, ws, b.data(), false), Error);
  const std::vector<int32_t> outside = {0, 3};
  EXPECT_THROW(m->forward(two.data(), 2, 1, outside, st, ws, b.data(), false), Error);
}

INSTANTIATE_TEST_SUITE_P(Devices, BatchedDecode, ::testing::Values("ref", "cpu", "cuda"),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

}  // namespace
}  // namespace mmfree
