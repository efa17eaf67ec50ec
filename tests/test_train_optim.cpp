// AdamW, gradient clipping and learning-rate schedules against hand-computed numbers.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/ref/ref_backend.h"
#include "train/adamw.h"
#include "train/lr_schedule.h"
#include "train/progress_text.h"
#include "util/error.h"

namespace mmfree {
namespace {

void set(std::span<float> dst, const std::vector<float>& v) {
  ASSERT_EQ(dst.size(), v.size());
  std::copy(v.begin(), v.end(), dst.begin());
}

// An arena on the ref backend holding the named vectors with these values (grads zero).
struct TestParams {
  RefBackend be;
  ParameterArena arena;
  explicit TestParams(const std::vector<std::pair<std::string, std::vector<float>>>& tensors)
      : arena(be, specs(tensors)) {
    for (size_t k = 0; k < tensors.size(); ++k) set(arena.params()[k].value, tensors[k].second);
  }
  Parameter& operator[](size_t k) { return arena.params()[k]; }
  static std::vector<TensorSpec> specs(const std::vector<std::pair<std::string, std::vector<float>>>& tensors) {
    std::vector<TensorSpec> out;
    for (const auto& [name, v] : tensors) out.push_back({name, {static_cast<int64_t>(v.size())}});
    return out;
  }
};


// Two steps of AdamW (lr 0.1, betas 0.9/0.99, eps 1e-8, wd 0.1) worked out by hand:
// step 1, element 0: p = 1 * (1 - 0.01) = 0.99; m = 0.05; v = 0.0025; m^ = 0.05/0.1 = 0.5,
//   v^ = 0.0025/0.01 = 0.25; p = 0.99 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.890000002.
// step 2, element 0 (g = 0.1): p = 0.89 * 0.99 = 0.8811; m = 0.055; v = 0.002575; m^ = 0.055/0.19;
//   v^ = 0.002575/0.0199; p = 0.8811 - 0.1 * 0.2894737 / 0.3597182 = 0.800627594.
TEST(TrainAdamW, TwoStepsMatchHandComputation) {
  TestParams params({{"w", {1.0f, -2.0f}}});
  AdamWOptions o;
  o.beta1 = 0.9;
  o.beta2 = 0.99;
  o.eps = 1e-8;
  o.weight_decay = 0.1;
  AdamW opt(params.arena, o);
  set(params[0].grad, {0.5f, -1.0f});
  opt.step(0.1);
  EXPECT_NEAR(params[0].value[0], 0.890000002, 1e-6);
  EXPECT_NEAR(params[0].value[1], -1.880000001, 1e-6);
  EXPECT_NEAR(opt.first_moments()[0][0], 0.05, 1e-8);
  EXPECT_NEAR(opt.second_moments()[0][1], 0.01, 1e-8);
  set(params[0].grad, {0.1f, 0.3f});
  opt.step(0.1);
  EXPECT_NEAR(params[0].value[0], 0.800627594, 1e-6);
  EXPECT_NEAR(params[0].value[1], -1.818334066, 1e-6);
  EXPECT_EQ(opt.steps_taken(), 2);
}

TEST(TrainAdamW, ExcludedParametersAreNotDecayed) {
  TestParams params({{"model.norm.weight", {1.0f}},
                     {"model.lower_bounds", {1.0f}},
                     {"model.embeddings.weight", {1.0f}},
                     {"model.layers.0.attn.i_proj.weight", {1.0f}}});
  AdamWOptions o;
  o.weight_decay = 0.5;
  o.exclude_norms_from_decay = true;
  AdamW opt(params.arena, o);
  opt.step(0.1);  // zero gradients: only the decay moves a weight
  EXPECT_EQ(params[0].value[0], 1.0f);
  EXPECT_EQ(params[1].value[0], 1.0f);
  EXPECT_EQ(params[2].value[0], 1.0f);
  EXPECT_FLOAT_EQ(params[3].value[0], 0.95f);
  EXPECT_TRUE(is_no_decay_parameter("model.layers.3.mlp.down_proj.norm.weight"));
  EXPECT_FALSE(is_no_decay_parameter("lm_head.weight"));
}

TEST(TrainAdamW, DecaysEverythingByDefault) {
  TestParams params({{"model.norm.weight", {2.0f}}});
  AdamWOptions o;
  o.weight_decay = 0.5;
  AdamW opt(params.arena, o);
  opt.step(0.1);
  EXPECT_FLOAT_EQ(params[0].value[0], 1.9f);
}

TEST(TrainClip, ScalesToMaxNorm) {
  TestParams params({{"a", {0, 0}}, {"b", {0}}});
  set(params[0].grad, {3.0f, 4.0f});
  set(params[1].grad, {12.0f});  // global norm sqrt(9 + 16 + 144) = 13
  EXPECT_DOUBLE_EQ(global_grad_norm(params.arena), 13.0);
  EXPECT_EQ(clip_coefficient(13.0, 6.5), static_cast<float>(6.5 / (13.0 + 1e-6)));
}

TEST(TrainClip, LeavesSmallGradientsAlone) {
  EXPECT_EQ(clip_coefficient(0.5, 1.0), 1.0f);
  EXPECT_EQ(clip_coefficient(1.0 - 1e-6, 1.0), 1.0f);  // 1 / (1 - 1e-6 + 1e-6) = 1: not below 1
}

// The coefficient applied inside the update gives the bits that scaling the gradients first (the
// separate pass it replaces, torch's order) and then stepping gives.
TEST(TrainClip, CoefficientInTheUpdateEqualsScalingTheGradientsFirst) {
  const std::vector<float> w = {0.5f, -1.25f, 3.0f, 1e-3f}, g = {0.3f, -7.0f, 1e-5f, 2.5f};
  AdamWOptions o;
  o.weight_decay = 0.1;
  const float c = clip_coefficient(13.0, 1.0);
  TestParams fused({{"w", w}}), scaled({{"w", w}});
  AdamW fused_opt(fused.arena, o), scaled_opt(scaled.arena, o);
  for (int step = 0; step < 3; ++step) {
    set(fused[0].grad, g);
    fused_opt.step(0.01, c);
    std::vector<float> gs = g;
    for (float& v : gs) v *= c;
    set(scaled[0].grad, gs);
    scaled_opt.step(0.01);
  }
  for (size_t i = 0; i < w.size(); ++i) {
    EXPECT_EQ(fused[0].value[i], scaled[0].value[i]) << i;
    EXPECT_EQ(fused_opt.first_moments()[0][i], scaled_opt.first_moments()[0][i]) << i;
    EXPECT_EQ(fused_opt.second_moments()[0][i], scaled_opt.second_moments()[0][i]) << i;
  }
  EXPECT_NE(fused[0].value[0], w[0]);
}

TEST(TrainSchedule, Constant) {
  LrSchedule s{LrScheduleKind::Constant, 3e-3, 0, 10, 100};
  EXPECT_EQ(s.at(0), 3e-3);
  EXPECT_EQ(s.at(99), 3e-3);
}

TEST(TrainSchedule, CosineWithWarmup) {
  LrSchedule s{LrScheduleKind::Cosine, 1.0, 0.1, 10, 110};
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);   // 1/10 of the peak
  EXPECT_DOUBLE_EQ(s.at(4), 0.5);
  EXPECT_DOUBLE_EQ(s.at(9), 1.0);   // warmup ends at the peak
  EXPECT_DOUBLE_EQ(s.at(10), 1.0);  // cosine starts at the peak
  EXPECT_NEAR(s.at(60), 0.55, 1e-12);  // half way: min + (peak - min) / 2
  EXPECT_NEAR(s.at(35), 0.1 + 0.9 * 0.5 * (1 + std::sqrt(0.5)), 1e-12);  // a quarter: cos(pi/4)
  EXPECT_NEAR(s.at(109), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.99)), 1e-12);
  EXPECT_NEAR(s.at(110), 0.1, 1e-12);
}

TEST(TrainSchedule, PaperHalvesThePeakAtMidTraining) {
  LrSchedule s{LrScheduleKind::Paper, 1.0, 0.0, 0, 100};
  EXPECT_DOUBLE_EQ(s.at(0), 1.0);
  EXPECT_NEAR(s.at(49), 0.5 * (1 + std::cos(M_PI * 0.49)), 1e-12);  // ~0.5157, first stage
  EXPECT_NEAR(s.at(50), 0.25, 1e-12);  // second stage: half of the cosine's 0.5
  EXPECT_NEAR(s.at(75), 0.25 * (1 - std::sqrt(0.5)), 1e-12);
}

TEST(TrainSchedule, PaperWithWarmupAndFloor) {
  LrSchedule s{LrScheduleKind::Paper, 4e-3, 4e-4, 10, 110};
  EXPECT_DOUBLE_EQ(s.at(0), 4e-4);
  EXPECT_DOUBLE_EQ(s.at(10), 4e-3);
  // s = 55 is the middle of 110 steps: progress (55 - 10) / 100 = 0.45, height 1/2.
  EXPECT_NEAR(s.at(55), 4e-4 + 0.5 * 3.6e-3 * 0.5 * (1 + std::cos(M_PI * 0.45)), 1e-15);
  EXPECT_NEAR(s.at(54), 4e-4 + 3.6e-3 * 0.5 * (1 + std::cos(M_PI * 0.44)), 1e-15);
}

TEST(TrainSchedule, ParseRejectsUnknownNames) {
  EXPECT_EQ(parse_lr_schedule("paper"), LrScheduleKind::Paper);
  try {
    parse_lr_schedule("linear");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--lr-schedule: 'linear' is not one of constant, cosine, paper"), std::string::npos);
  }
}

TEST(TrainProgress, Text) {
  EXPECT_EQ(format_duration(42.4), "42s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(7620), "2h07m");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_rate(12345), "12.3k");
  EXPECT_EQ(format_rate(2.5e6), "2.50M");
  EXPECT_EQ(format_rate(512), "512");
  StepReport r;
  r.step = 4;
  r.steps = 10;
  r.loss = 5.12345;
  r.lr = 1.5e-3;
  r.tokens_per_s = 2048;
  r.eta_s = 83;
  EXPECT_EQ(progress_line(r, 10), "[#####.....] step 5/10  loss 5.1235  lr 1.50e-03  2.0k tok/s  ETA 1m23s");
  EXPECT_EQ(progress_line(r, 0), "step 5/10  loss 5.1235  lr 1.50e-03  2.0k tok/s  ETA 1m23s");
}

}  // namespace
}  // namespace mmfree
