// TrainableModel loading, random init and export to a Hugging Face directory.
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "format/safetensors.h"
#include "model/model.h"
#include "test_util.h"
#include "train/trainable_model.h"
#include "util/error.h"

namespace mmfree {
namespace {

std::vector<float> inference_logits(const std::string& dir, const std::vector<int64_t>& ids, int64_t B, int64_t T) {
  auto model = Model::load(dir);
  StatePool st(*model, B);
  Workspace ws(*model, B * T);
  std::vector<float> logits(static_cast<size_t>(B * T * model->config().vocab_size));
  model->forward(ids.data(), B, T, st, ws, logits.data(), true);
  return logits;
}

TEST(TrainExport, ExportedCheckpointReloadsWithIdenticalLogits) {
  SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
  const auto ids = golden.get("input_ids").to_i64();
  const int64_t B = golden.get("input_ids").shape[0], T = golden.get("input_ids").shape[1];
  test::TempDir tmp;
  const std::string out = tmp.file("export");
  TrainableModel::from_checkpoint(test::tiny_a()).save_hf(out);
  EXPECT_EQ(inference_logits(out, ids, B, T), inference_logits(test::tiny_a(), ids, B, T));

  // Same names, shapes and values as the original's checkpoint, all F32.
  SafetensorsFile want(test::tiny_a() + "/model.safetensors"), got(out + "/model.safetensors");
  ASSERT_EQ(got.tensors().size(), want.tensors().size());
  for (const auto& [name, view] : want.tensors()) {
    const TensorView& g = got.get(name);
    EXPECT_EQ(g.dtype, DType::F32) << name;
    EXPECT_EQ(g.shape, view.shape) << name;
    EXPECT_EQ(g.to_f32(), view.to_f32()) << name;
  }
  const ModelConfig reloaded = ModelConfig::from_file(out + "/config.json");
  const ModelConfig orig = ModelConfig::from_file(test::tiny_a() + "/config.json");
  EXPECT_EQ(reloaded.to_json(), orig.to_json());
}

TEST(TrainExport, RandomModelExportMatchesTrainingForward) {
  ModelConfig c;
  c.vocab_size = 40;
  c.hidden_size = 24;
  c.num_layers = 3;
  c.intermediate_size = 48;
  TrainableModel m = TrainableModel::random_init(c, 5);
  // A training step's worth of change, so that norms and lower bounds are not at their init.
  for (auto& p : m.params())
    for (size_t k = 0; k < p.value.size(); ++k) p.value[k] += 0.01f * std::sin(static_cast<float>(k * 7 + p.name.size()));
  const int64_t B = 2, T = 9;
  std::vector<int32_t> tokens;
  std::vector<int64_t> tokens64;
  for (int64_t k = 0; k < B * T; ++k) {
    tokens.push_back(static_cast<int32_t>((k * 13 + 5) % c.vocab_size));
    tokens64.push_back(tokens.back());
  }
  std::vector<float> train_logits(static_cast<size_t>(B * T * c.vocab_size));
  m.logits(tokens.data(), B, T, train_logits.data());
  test::TempDir tmp;
  m.save_hf(tmp.file("m"));
  const auto reloaded = inference_logits(tmp.file("m"), tokens64, B, T);
  auto cmp = test::compare_logits(train_logits.data(), reloaded.data(), B * T, c.vocab_size);
  std::printf("[ metric ] random model, training forward vs exported+reloaded: %s\n", test::describe(cmp).c_str());
  EXPECT_LE(cmp.median, 1e-6);
  EXPECT_EQ(cmp.argmax_agreement, 1.0);
  // And back into training: the same parameters.
  TrainableModel back = TrainableModel::from_checkpoint(tmp.file("m"));
  for (size_t k = 0; k < m.params().size(); ++k) EXPECT_TRUE(std::ranges::equal(back.params()[k].value, m.params()[k].value));
}

TEST(TrainExport, RandomInitIsSeededAndFollowsTheOriginalScheme) {
  ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.num_layers = 2;
  c.intermediate_size = 64;
  TrainableModel a = TrainableModel::random_init(c, 1), b = TrainableModel::random_init(c, 1),
                 other = TrainableModel::random_init(c, 2);
  for (size_t k = 0; k < a.params().size(); ++k) EXPECT_TRUE(std::ranges::equal(a.params()[k].value, b.params()[k].value));
  EXPECT_FALSE(std::ranges::equal(a.param("lm_head.weight").value, other.param("lm_head.weight").value));
  auto stddev = [](std::span<const float> v) {
    double s = 0;
    for (float x : v) s += static_cast<double>(x) * x;
    return std::sqrt(s / static_cast<double>(v.size()));
  };
  EXPECT_NEAR(stddev(a.param("model.embeddings.weight").value), 0.02, 0.002);
  EXPECT_NEAR(stddev(a.param("model.layers.0.mlp.down_proj.weight").value), 0.01, 0.001);  // 0.02 / sqrt(2 L)
  // Xavier-uniform, gain 2^-2.5: bound 2^-2.5 sqrt(6 / 2d), standard deviation bound / sqrt(3).
  EXPECT_NEAR(stddev(a.param("model.layers.1.attn.o_proj.weight").value), std::pow(2.0, -2.5) * std::sqrt(6.0 / 64) / std::sqrt(3.0), 0.003);
  for (float v : a.param("model.layers.1.attn.g_norm.weight").value) EXPECT_EQ(v, 1.0f);
  for (float v : a.param("model.lower_bounds").value) EXPECT_EQ(v, 0.0f);
}

TEST(TrainExport, ClearErrors) {
  test::TempDir tmp;
  try {
    TrainableModel::from_checkpoint(tmp.file("missing"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing: not a model"), std::string::npos) << e.what();
  }
  std::ofstream(tmp.file("plain_file")) << "x";
  TrainableModel m = TrainableModel::from_checkpoint(test::tiny_a());
  try {
    m.save_hf(tmp.file("plain_file"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("plain_file: cannot create the directory"), std::string::npos) << e.what();
  }
  const std::vector<int32_t> bad = {1, 2, 512};
  try {
    m.forward_backward(bad.data(), 1, 3);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token id 512 is outside the vocabulary [0, 512)"), std::string::npos)
        << e.what();
  }
  try {
    m.forward_backward(bad.data(), 1, 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("need at least 2"), std::string::npos) << e.what();
  }
}

TEST(TrainExport, ExportReplacesAStaleShardIndex) {
  test::TempDir tmp;
  std::filesystem::create_directories(tmp.file("m"));
  std::ofstream(tmp.file("m/model.safetensors.index.json")) << "{\"weight_map\": {}}";
  TrainableModel::from_checkpoint(test::tiny_a()).save_hf(tmp.file("m"));
  EXPECT_FALSE(std::filesystem::exists(tmp.file("m/model.safetensors.index.json")));
  EXPECT_NO_THROW(Model::load(tmp.file("m")));
}

}  // namespace
}  // namespace mmfree
