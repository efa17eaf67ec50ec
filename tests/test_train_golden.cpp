// The training forward and backward against the original implementation's numbers on tiny_a.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "backend/ref/ref_backend.h"
#include "format/safetensors.h"
#include "train/adamw.h"
#include "model/model.h"
#include "test_util.h"
#include "train/trainable_model.h"

namespace mmfree {
namespace {

using test::golden_batch;
using test::GoldenBatch;

TEST(TrainGolden, ForwardMatchesInferenceModel) {
  SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
  const GoldenBatch g = golden_batch(golden);
  auto model = Model::load(test::tiny_a());
  const int64_t V = model->config().vocab_size;
  std::vector<int64_t> ids64(g.ids.begin(), g.ids.end());
  StatePool st(*model, g.B);
  Workspace ws(*model, g.B * g.T);
  std::vector<float> want(static_cast<size_t>(g.B * g.T * V)), got(want.size());
  model->forward(ids64.data(), g.B, g.T, st, ws, want.data(), true);

  TrainableModel tm = TrainableModel::from_checkpoint(test::tiny_a());
  tm.logits(g.ids.data(), g.B, g.T, got.data());
  auto c = test::compare_logits(got.data(), want.data(), g.B * g.T, V);
  std::printf("[ metric ] training forward vs inference Model: %s\n", test::describe(c).c_str());
  // One forward (Model::run_blocks) on the same cpu backend: the training products are float
  // GEMMs of the same integer codes, so the logits are the inference ones bit for bit.
  EXPECT_EQ(c.worst, 0.0) << test::describe(c);
  auto cg = test::compare_logits(got.data(), golden.get("logits").to_f32().data(), g.B * g.T, V);
  std::printf("[ metric ] training forward vs golden logits: %s\n", test::describe(cg).c_str());
  test::expect_matches_original(cg);
}

// Step-0 gradients against the original's, relative L2 per tensor. Measured: median 3.3e-5 over the
// 35 tensors, worst 7.6e-4 (lm_head.weight, which sees the logits' flipped positions). Bounds: the
// median 3x, the worst 4x the measured (SPEC.md: ~1e-3 when correct; a wrong formula gives 1e-1).
constexpr double kGradMedian = 1e-4, kGradWorst = 3e-3;

class TrainGoldenOn : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainGoldenOn, StepZeroLossAndGradients) {
  SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
  SafetensorsFile grads(test::tiny_a() + "/grads.safetensors");
  const GoldenBatch g = golden_batch(golden);
  const double want_loss = golden.get("train_losses").to_f32()[0];
  TrainableModel tm = TrainableModel::from_checkpoint(test::tiny_a(), {GetParam(), 0, ""});
  const double loss = tm.forward_backward(g.ids.data(), g.B, g.T);
  const double loss_err = std::fabs(loss - want_loss) / want_loss;
  std::printf("[ metric ] %s: step-0 loss %.9f vs golden %.9f: relative error %.3g\n", GetParam().c_str(), loss,
              want_loss, loss_err);
  EXPECT_LE(loss_err, 1e-5);
  EXPECT_NEAR(loss, std::stod(grads.metadata().at("loss")), 1e-5 * want_loss);

  std::vector<double> errs;
  std::string worst_name;
  double worst = 0;
  for (const auto& p : tm.params()) {
    const TensorView& want = grads.get(p.name);
    ASSERT_EQ(want.shape, p.shape) << p.name;
    const double e = test::relative_l2(p.grad, want.to_f32());
    std::printf("[ metric ]   grad %-45s rel L2 %.3g\n", p.name.c_str(), e);
    EXPECT_LE(e, kGradWorst) << p.name;
    errs.push_back(e);
    if (e > worst) worst = e, worst_name = p.name;
  }
  EXPECT_EQ(errs.size(), grads.tensors().size());
  const size_t m = errs.size();
  const double median = test::median(errs);
  std::printf("[ metric ] %s: step-0 gradients vs golden over %zu tensors: median rel L2 %.3g, worst %.3g (%s)\n",
              GetParam().c_str(), m, median, worst, worst_name.c_str());
  EXPECT_LE(median, kGradMedian);
}

INSTANTIATE_TEST_SUITE_P(Devices, TrainGoldenOn, ::testing::Values("cpu", "ref"));

TEST(TrainGolden, RecomputeGivesTheSameLossAndGradients) {
  // The backward forms again what the forward formed, with the same ops: the same numbers.
  SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
  const GoldenBatch g = golden_batch(golden);
  TrainableModel kept = TrainableModel::from_checkpoint(test::tiny_a());
  const double want = kept.forward_backward(g.ids.data(), g.B, g.T);
  for (Recompute r : {Recompute::Inputs, Recompute::Branch, Recompute::Block}) {
    TrainableModel recomputed = TrainableModel::from_checkpoint(test::tiny_a());
    recomputed.set_recompute(r);
    EXPECT_EQ(want, recomputed.forward_backward(g.ids.data(), g.B, g.T)) << recompute_name(r);
    for (size_t k = 0; k < kept.params().size(); ++k)
      EXPECT_TRUE(std::ranges::equal(kept.params()[k].grad, recomputed.params()[k].grad))
          << kept.params()[k].name << " " << recompute_name(r);
  }
}

// ref's arithmetic on memory the trainer may only reach through write() and read(), as on a GPU: the
// parameters, gradients and AdamW moments then live in host mirrors that download() and upload()
// keep in step.
class DeviceLikeRef : public RefBackend {
 public:
  bool host_memory() const override { return false; }
};

TEST(TrainGolden, MirroredArenaTrainsAsTheHostOne) {
  SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
  const GoldenBatch g = golden_batch(golden);
  TrainableModel host = TrainableModel::from_checkpoint(test::tiny_a(), DeviceOptions{"ref", 0, ""});
  TrainableModel mirrored = TrainableModel::from_checkpoint(test::tiny_a(), std::make_shared<DeviceLikeRef>());
  AdamW host_opt(host.arena(), {}), mirrored_opt(mirrored.arena(), {});
  for (int step = 0; step < 2; ++step) {
    for (TrainableModel* m : {&host, &mirrored}) m->zero_grad();
    EXPECT_EQ(host.forward_backward(g.ids.data(), g.B, g.T), mirrored.forward_backward(g.ids.data(), g.B, g.T));
    host_opt.step(1e-3);
    mirrored_opt.step(1e-3);
  }
  mirrored.arena().download();
  mirrored_opt.download();
  for (size_t k = 0; k < host.params().size(); ++k) {
    const std::string& name = host.params()[k].name;
    EXPECT_TRUE(std::ranges::equal(host.params()[k].value, mirrored.params()[k].value)) << name;
    EXPECT_TRUE(std::ranges::equal(host.params()[k].grad, mirrored.params()[k].grad)) << name;
    EXPECT_TRUE(std::ranges::equal(host_opt.first_moments()[k], mirrored_opt.first_moments()[k])) << name;
    EXPECT_TRUE(std::ranges::equal(host_opt.second_moments()[k], mirrored_opt.second_moments()[k])) << name;
  }
  // And back: values written to the mirror reach the arena.
  std::fill(mirrored.params()[0].value.begin(), mirrored.params()[0].value.end(), 0.5f);
  mirrored.arena().upload();
  std::fill(mirrored.params()[0].value.begin(), mirrored.params()[0].value.end(), 0.0f);
  mirrored.arena().download();
  EXPECT_EQ(mirrored.params()[0].value[0], 0.5f);
}

TEST(TrainGolden, LossWithoutGradientsIsTheSame) {
  SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
  const GoldenBatch g = golden_batch(golden);
  TrainableModel tm = TrainableModel::from_checkpoint(test::tiny_a());
  const double plain = tm.loss(g.ids.data(), g.B, g.T);
  for (const auto& p : tm.params())
    EXPECT_TRUE(std::all_of(p.grad.begin(), p.grad.end(), [](float v) { return v == 0.0f; })) << p.name;
  EXPECT_EQ(plain, tm.forward_backward(g.ids.data(), g.B, g.T));
}

TEST(TrainGolden, GradScaleAccumulates) {
  // Two half-scaled passes add up to one full pass, up to the rounding of accumulating into a
  // non-zero gradient.
  SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
  const GoldenBatch g = golden_batch(golden);
  TrainableModel full = TrainableModel::from_checkpoint(test::tiny_a());
  TrainableModel halves = TrainableModel::from_checkpoint(test::tiny_a());
  full.forward_backward(g.ids.data(), g.B, g.T, 1.0f);
  halves.forward_backward(g.ids.data(), g.B, g.T, 0.5f);
  halves.forward_backward(g.ids.data(), g.B, g.T, 0.5f);
  for (size_t k = 0; k < full.params().size(); ++k)
    EXPECT_LE(test::relative_l2(halves.params()[k].grad, full.params()[k].grad), 1e-5) << full.params()[k].name;
  halves.zero_grad();
  for (const auto& p : halves.params())
    EXPECT_TRUE(std::all_of(p.grad.begin(), p.grad.end(), [](float v) { return v == 0.0f; })) << p.name;
}

}  // namespace
}  // namespace mmfree
