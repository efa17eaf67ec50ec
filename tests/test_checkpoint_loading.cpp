// Loading HF checkpoints: other dtypes and shards give the same model; every kind of bad input
// fails with one message naming the file and the tensor or key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "checkpoint_builder.h"
#include "format/hf_checkpoint.h"
#include "format/safetensors.h"
#include "model/model.h"
#include "test_util.h"
#include "util/error.h"

namespace mmfree {
namespace {

using test::CheckpointBuilder;

std::vector<float> logits_of(const std::string& dir, const std::vector<int64_t>& ids, int64_t B, int64_t T) {
  return test::all_logits(*Model::load(dir), ids, B, T);
}

std::vector<int64_t> golden_ids() {
  return SafetensorsFile(test::tiny_a() + "/golden.safetensors").get("input_ids").to_i64();
}

TEST(CheckpointLoading, Bf16AndShardedCopiesGiveTheLogitsOfTheF32Model) {
  test::TempDir tmp;
  auto b = CheckpointBuilder::from_dir(test::tiny_a());
  b.convert_all(DType::BF16);
  b.write(tmp.file("bf16"));
  b.write(tmp.file("bf16_sharded"), 3);
  b.convert_all(DType::F32);  // F32 holding exactly the BF16-rounded values
  b.write(tmp.file("f32"));
  b.write(tmp.file("f32_sharded"), 2);
  const auto ids = golden_ids();
  const auto want = logits_of(tmp.file("f32"), ids, 2, 37);
  for (const char* variant : {"bf16", "bf16_sharded", "f32_sharded"}) {
    const auto got = logits_of(tmp.file(variant), ids, 2, 37);
    auto c = test::compare_logits(got.data(), want.data(), 2 * 37, 512);
    std::printf("[ metric ] %s vs F32 of the same values: %s\n", variant, test::describe(c).c_str());
    EXPECT_EQ(got, want) << variant;
  }
}

TEST(CheckpointLoading, F16CopyLoads) {
  test::TempDir tmp;
  auto b = CheckpointBuilder::from_dir(test::tiny_a());
  b.convert_all(DType::F16);
  b.write(tmp.file("f16"));
  b.convert_all(DType::F32);
  b.write(tmp.file("f32"));
  const auto ids = golden_ids();
  EXPECT_EQ(logits_of(tmp.file("f16"), ids, 2, 37), logits_of(tmp.file("f32"), ids, 2, 37));
}

// Loads dir and returns the error message (empty when it loaded).
std::string load_error(const std::string& dir) {
  try {
    Model::load(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class BadCheckpoint : public ::testing::Test {
 protected:
  test::TempDir tmp;
  CheckpointBuilder b = CheckpointBuilder::from_dir(test::tiny_a());
  std::string dir() const { return tmp.file("m"); }
  std::string write_and_load(int shards = 1) {
    b.write(dir(), shards);
    return load_error(dir());
  }
};

TEST_F(BadCheckpoint, MissingTensor) {
  b.tensors.erase("model.layers.1.attn.f_proj.norm.weight");
  EXPECT_EQ(write_and_load(), dir() + ": missing tensor 'model.layers.1.attn.f_proj.norm.weight'");
}

TEST_F(BadCheckpoint, UnexpectedTensor) {
  b.tensors["model.layers.0.attn.q_proj.weight"] = b.tensors["model.layers.0.attn.i_proj.weight"];
  EXPECT_EQ(write_and_load(), dir() + "/model.safetensors: unexpected tensor 'model.layers.0.attn.q_proj.weight' "
                                      "(not part of an hgrn_bit model with this config)");
}

TEST_F(BadCheckpoint, MisShapedTensor) {
  auto& t = b.tensors["model.layers.0.mlp.down_proj.weight"];
  t.shape = {512, 128};  // transposed
  EXPECT_EQ(write_and_load(), dir() + "/model.safetensors: tensor 'model.layers.0.mlp.down_proj.weight' has shape "
                                      "[512, 128], the config implies [128, 512]");
}

TEST_F(BadCheckpoint, MisTypedTensor) {
  b.tensors["model.norm.weight"].dtype = DType::I32;  // same byte size as F32
  EXPECT_EQ(write_and_load(), dir() + "/model.safetensors: tensor 'model.norm.weight' has dtype I32, expected F32, BF16 or F16");
}

TEST_F(BadCheckpoint, TruncatedFile) {
  b.write(dir());
  const std::string f = dir() + "/model.safetensors";
  std::filesystem::resize_file(f, std::filesystem::file_size(f) - 1000);
  const std::string msg = load_error(dir());
  EXPECT_NE(msg.find(f + ": tensor '"), std::string::npos) << msg;
  EXPECT_NE(msg.find("run past the end of the data"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated file?"), std::string::npos) << msg;
}

TEST_F(BadCheckpoint, FileShorterThanItsHeader) {
  b.write(dir());
  const std::string f = dir() + "/model.safetensors";
  std::filesystem::resize_file(f, 100);
  const std::string msg = load_error(dir());
  EXPECT_NE(msg.find(f + ": safetensors header length"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exceeds the file size 100"), std::string::npos) << msg;
}

TEST_F(BadCheckpoint, EmptyFile) {
  b.write(dir());
  std::ofstream(dir() + "/model.safetensors", std::ios::trunc).close();
  EXPECT_EQ(load_error(dir()), dir() + "/model.safetensors: truncated safetensors file (0 bytes, no header)");
}

TEST_F(BadCheckpoint, MalformedHeader) {
  b.write(dir());
  const std::string f = dir() + "/model.safetensors";
  std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
  io.seekp(8);
  io.write("[oops", 5);  // the JSON header no longer parses
  io.close();
  const std::string msg = load_error(dir());
  EXPECT_EQ(msg.rfind(f + ": malformed safetensors header: ", 0), 0u) << msg;
}

TEST_F(BadCheckpoint, OverlappingTensors) {
  b.write(dir());
  const std::string f = dir() + "/model.safetensors";
  // Rewrite the header so that two tensors claim the same bytes: a corrupt file.
  std::ifstream in(f, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  std::string h(n, '\0');
  in.read(h.data(), static_cast<std::streamsize>(n));
  std::string rest((std::istreambuf_iterator<char>(in)), {});
  in.close();
  auto j = nlohmann::json::parse(h);
  j["model.layers.0.attn_norm.weight"]["data_offsets"] = j["model.layers.0.mlp_norm.weight"]["data_offsets"];
  std::string nh = j.dump();
  uint64_t nn = nh.size();
  std::ofstream out(f, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(&nn), 8);
  out << nh << rest;
  out.close();
  EXPECT_EQ(load_error(dir()), f + ": tensors overlap in the data section (corrupt file)");
}

TEST_F(BadCheckpoint, MalformedConfigJson) {
  b.write(dir());
  std::ofstream(dir() + "/config.json", std::ios::trunc) << "{\"hidden_size\": 128,";
  const std::string msg = load_error(dir());
  EXPECT_EQ(msg.rfind(dir() + "/config.json: malformed JSON: ", 0), 0u) << msg;
}

TEST_F(BadCheckpoint, UnsupportedShortConv) {
  b.config["use_short_conv"] = true;
  EXPECT_EQ(write_and_load(), dir() + "/config.json: unsupported config value use_short_conv = true "
                                      "(no released model uses the short convolution)");
}

TEST_F(BadCheckpoint, UnsupportedActivation) {
  b.config["hidden_act"] = "gelu";
  EXPECT_EQ(write_and_load(), dir() + "/config.json: unsupported config value hidden_act = \"gelu\" (only swish is supported)");
}

TEST_F(BadCheckpoint, MissingConfigKey) {
  b.config.erase("hidden_size");
  EXPECT_EQ(write_and_load(), dir() + "/config.json: missing required key 'hidden_size'");
}

TEST_F(BadCheckpoint, WrongConfigType) {
  b.config["num_hidden_layers"] = "two";
  EXPECT_EQ(write_and_load(), dir() + "/config.json: key 'num_hidden_layers' must be an integer, got \"two\"");
}

TEST_F(BadCheckpoint, ConfigDisagreesWithTensors) {
  b.config["num_hidden_layers"] = 3;
  EXPECT_EQ(write_and_load(), dir() + "/model.safetensors: tensor 'model.lower_bounds' has shape [2, 128], the config implies [3, 128]");
}

TEST_F(BadCheckpoint, ShardListedInIndexIsMissing) {
  b.write(dir(), 2);
  std::filesystem::remove(dir() + "/model-00002-of-00002.safetensors");
  EXPECT_EQ(load_error(dir()), dir() + "/model-00002-of-00002.safetensors: shard listed in the index is missing");
}

TEST_F(BadCheckpoint, NoWeightsAtAll) {
  std::filesystem::create_directories(dir());
  std::ofstream(dir() + "/config.json") << b.config.dump();
  EXPECT_EQ(load_error(dir()), dir() + ": neither model.safetensors nor model.safetensors.index.json found");
}

TEST_F(BadCheckpoint, NoSuchPath) {
  EXPECT_EQ(load_error(tmp.file("nothing")), tmp.file("nothing") + ": no such file or directory");
}

TEST_F(BadCheckpoint, DirectoryWithoutConfig) {
  std::filesystem::create_directories(dir());
  EXPECT_EQ(load_error(dir()), dir() + ": not a model: a model directory holds config.json (Hugging Face layout); "
                                       "a converted model is a .gguf file");
}

}  // namespace
}  // namespace mmfree
