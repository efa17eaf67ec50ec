// Inputs crafted to break the engine (issue 16): each must get one clear error, exit 1, no signal,
// within seconds and in under 300 MB (test::clean_failure), never a crash or a huge allocation.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "checkpoint_builder.h"
#include "format/gguf.h"
#include "format/safetensors.h"
#include "model/config.h"
#include "message_checks.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "train/batch_loader.h"
#include "util/error.h"

namespace mmfree {
namespace {

// A safetensors file with this exact JSON header and these data bytes.
void write_raw_safetensors(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
}

// The shape product 7 * 7905747460161236407 wraps to 1 in 64 bits; with 8 bytes of data the file
// once passed the size check and logits, grads and train wrote past a 1-row workspace.
TEST(Hardening, SafetensorsShapeProductOverflowIsRefused) {
  test::TempDir dir;
  const std::string f = dir.file("wrap.safetensors");
  write_raw_safetensors(f, R"({"input_ids":{"dtype":"I64","shape":[7,7905747460161236407],"data_offsets":[0,8]}})",
                        std::string(8, '\0'));
  const std::string why = "tensor 'input_ids': shape [7, 7905747460161236407] of I64 needs more than 2^63 bytes";
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("logits --model " + test::tiny_a() + " --input " + f + " --output " + dir.file("o"), 60),
      {f, why}));
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("grads --model " + test::tiny_a() + " --input " + f + " --output " + dir.file("o"), 60),
      {f, why}));
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("train --init-from " + test::tiny_a() + " --batch-file " + f +
                                                               " --steps 1 --out " + dir.file("run"),
                                                           60),
                                  {f, why}));
  // A byte count (not the element count) that wraps: 2^61 F32 elements need 2^63 bytes.
  write_raw_safetensors(f, R"({"input_ids":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,0]}})", "");
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("logits --model " + test::tiny_a() + " --input " + f + " --output " + dir.file("o"), 60),
      {f, "tensor 'input_ids': shape [2305843009213693952] of F32 needs more than 2^63 bytes"}));
  // An empty tensor whose other dimensions multiply past 2^63 is refused too.
  write_raw_safetensors(f, R"({"input_ids":{"dtype":"I64","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}})", "");
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("logits --model " + test::tiny_a() + " --input " + f + " --output " + dir.file("o"), 60),
      {f, "needs more than 2^63 bytes"}));
}

// tiny_a's directory with one config key changed.
std::string tiny_a_with(const test::TempDir& dir, const std::string& key, const nlohmann::json& value) {
  auto b = test::CheckpointBuilder::from_dir(test::tiny_a());
  b.config[key] = value;
  const std::string d = dir.file("hf_" + key);
  b.write(d);
  return d;
}

// A config whose layer count is out of any range, or within it but more than its file can hold,
// once built the tensor list and took gigabytes before anything was checked.
TEST(Hardening, ConfigSizesBoundedBeforeAllocation) {
  test::TempDir dir;
  std::string d = tiny_a_with(dir, "num_hidden_layers", int64_t{1} << 31);
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("info --model " + d, 60),
                                  {d + "/config.json", "num_hidden_layers = 2147483648 is out of range [1, 4096]"}));
  d = tiny_a_with(dir, "num_hidden_layers", 4000);
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("info --model " + d, 60),
                                  {d + "/config.json", "the config describes", "4000 layers", "but the file holds 2635776"}));
  d = tiny_a_with(dir, "vocab_size", int64_t{1} << 40);
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("info --model " + d, 60),
                                  {"vocab_size = 1099511627776 is out of range [1, 2147483647]"}));
  d = tiny_a_with(dir, "hidden_size", 65536);
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("generate --model " + d + " --prompt-ids 1 -n 1", 60),
                                  {"hidden_size 65536", "but the file holds"}));
}

// The GGUF model keys bounded the same way: block_count = 10^6 in a small file.
TEST(Hardening, GgufConfigBoundedByFileSize) {
  test::TempDir dir;
  GgufWriter w;
  w.add_metadata("general.architecture", GgufValue::of_string("hgrn_bit"));
  w.add_metadata("hgrn_bit.vocab_size", GgufValue::u32(512));
  w.add_metadata("hgrn_bit.embedding_length", GgufValue::u32(128));
  w.add_metadata("hgrn_bit.block_count", GgufValue::u32(1000000));
  w.add_metadata("hgrn_bit.feed_forward_length", GgufValue::u32(512));
  w.add_metadata("hgrn_bit.attention.head_count", GgufValue::u32(1));
  w.add_metadata("hgrn_bit.attention.layer_norm_rms_epsilon", GgufValue::f32(1e-6f));
  w.add_metadata("hgrn_bit.use_lower_bound", GgufValue::of_bool(true));
  const std::string f = dir.file("layers.gguf");
  w.write(f);
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("info --model " + f, 60),
                                  {f, "'hgrn_bit.block_count' = 1000000 is out of range [1, 4096]"}));
}

// A metadata array costs far more memory decoded than in the file; 20 M uint8 (a 20 MB file) once
// took ~1 GB. The metadata may take the file's size plus 64 MiB.
TEST(Hardening, GgufMetadataArraysBoundedByFileSize) {
  test::TempDir dir;
  const std::string f = dir.file("array.gguf");
  {
    std::ofstream out(f, std::ios::binary);
    auto put = [&](auto v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); };
    out << "GGUF";
    put(uint32_t{3});
    put(uint64_t{0});  // tensors
    put(uint64_t{1});  // metadata entries
    const std::string key = "big.array";
    put(uint64_t{key.size()});
    out << key;
    put(uint32_t{9});  // ARRAY
    put(uint32_t{0});  // of UINT8
    const uint64_t n = 20'000'000;
    put(n);
    const std::string chunk(1 << 20, '\x01');
    for (uint64_t left = n; left > 0; left -= std::min<uint64_t>(left, chunk.size()))
      out.write(chunk.data(), static_cast<std::streamsize>(std::min<uint64_t>(left, chunk.size())));
  }
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("info --model " + f, 60),
                                  {f, "metadata key 'big.array'", "more memory than the file's size plus 64 MiB"}));
}

// A training config of valid but enormous sizes is refused up front, naming the bytes it needs.
TEST(Hardening, TrainingConfigCheckedAgainstMemory) {
  test::TempDir dir;
  nlohmann::json c = nlohmann::json::parse(std::ifstream(test::tiny_a() + "/config.json"));
  c["vocab_size"] = ModelConfig::kMaxVocab;
  c["hidden_size"] = 65536;
  std::ofstream(dir.file("huge.json")) << c.dump();
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("train --config " + dir.file("huge.json") + " --batch-file " + test::tiny_a() +
                                   "/golden.safetensors --steps 1 --out " + dir.file("run"),
                               60),
      {"training this model needs at least", "bytes of memory", "this machine has"}));
}

// Writes `value` over element `index` of F32 tensor `name` of a safetensors file, in place.
void patch_safetensors(const std::string& path, const std::string& name, int64_t index, float value) {
  std::fstream io(path, std::ios::binary | std::ios::in | std::ios::out);
  uint64_t hlen = 0;
  io.read(reinterpret_cast<char*>(&hlen), 8);
  std::string header(hlen, '\0');
  io.read(header.data(), static_cast<std::streamsize>(hlen));
  const uint64_t begin = nlohmann::json::parse(header).at(name).at("data_offsets").at(0);
  io.seekp(static_cast<std::streamoff>(8 + hlen + begin + 4 * static_cast<uint64_t>(index)));
  io.write(reinterpret_cast<const char*>(&value), 4);
}

// A copy of tiny_a whose tensor `name` holds `value` at index 5.
std::string tiny_a_poisoned(const test::TempDir& dir, const std::string& name, float value) {
  auto b = test::CheckpointBuilder::from_dir(test::tiny_a());
  std::memcpy(b.tensors.at(name).bytes.data() + 5 * 4, &value, 4);
  const std::string d = dir.file("poisoned");
  b.write(d);
  return d;
}

// A NaN or an infinity in the weights is refused at load, naming the tensor (it once generated
// text and exited 0), from a HF directory, a GGUF file and a training checkpoint alike.
TEST(Hardening, NonFiniteWeightsRefusedAtLoad) {
  test::TempDir dir;
  const std::string hf = tiny_a_poisoned(dir, "model.layers.1.attn.f_proj.weight", std::nanf(""));
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("generate --model " + hf + " --prompt-ids 1 -n 2", 60),
                                  {hf + "/model.safetensors: tensor 'model.layers.1.attn.f_proj.weight' holds nan at index 5"}));
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("convert --model " + hf + " --out " + dir.file("x.gguf"), 60),
                                  {"'model.layers.1.attn.f_proj.weight' holds nan"}));

  // A GGUF file whose final norm holds +inf: converted from tiny_a, then patched in place.
  const std::string gguf = dir.file("tiny.gguf");
  ASSERT_EQ(test::run_mmfree("convert --model " + test::tiny_a() + " --out " + gguf).exit_code, 0);
  {
    const GgufFile f(gguf);
    const GgufTensorInfo& t = f.tensor("model.norm.weight");
    const uint64_t at = f.data_offset() + t.offset + 4 * 3;
    std::fstream io(gguf, std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(static_cast<std::streamoff>(at));
    const float inf = std::numeric_limits<float>::infinity();
    io.write(reinterpret_cast<const char*>(&inf), 4);
  }
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("generate --model " + gguf + " --prompt-ids 1 -n 2", 60),
                                  {gguf + ": tensor 'model.norm.weight' holds inf at index 3"}));

  // A training checkpoint: a good one from one step, then a NaN written into a parameter.
  const std::string run = dir.file("run");
  ASSERT_EQ(test::run_mmfree("train --init-from " + test::tiny_a() + " --batch-file " + test::tiny_a() +
                             "/golden.safetensors --steps 1 --out " + run)
                .exit_code,
            0);
  const std::string ck = run + "/checkpoint.safetensors";
  patch_safetensors(ck, "param.model.norm.weight", 2, std::nanf(""));
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("train --init-from " + ck + " --batch-file " + test::tiny_a() +
                                                               "/golden.safetensors --steps 1 --out " + dir.file("run2"),
                                                           60),
                                  {ck + ": tensor 'param.model.norm.weight' holds nan at index 2"}));
}

// A resumed run whose learning rate blows the weights up once overwrote the last good checkpoint
// and the export with NaN weights. It must stop, name the step, and leave every file as it was.
TEST(Hardening, DivergedTrainingKeepsTheLastGoodCheckpoint) {
  test::TempDir dir;
  const std::string run = dir.file("run");
  const std::string batch = " --batch-file " + test::tiny_a() + "/golden.safetensors";
  ASSERT_EQ(test::run_mmfree("train --init-from " + test::tiny_a() + batch + " --steps 2 --out " + run).exit_code, 0);
  const std::vector<std::string> files = {run + "/checkpoint.safetensors", run + "/hf/model.safetensors",
                                          run + "/model.gguf"};
  std::vector<std::string> before;
  for (const auto& f : files) before.push_back(test::read_file(f));
  auto unchanged = [&] {
    for (size_t i = 0; i < files.size(); ++i) EXPECT_EQ(test::read_file(files[i]), before[i]) << files[i];
    for (const auto& e : std::filesystem::directory_iterator(run))
      EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  };
  // The update of step 2 makes the weights infinite; saving right after it must fail verification.
  auto r = test::run_mmfree_limited("train --resume --out " + run + " --steps 3 --lr 1e300", 120);
  EXPECT_TRUE(test::clean_failure(r, {"step 3: the checkpoint was not saved", "keep the previous one", "holds"}));
  unchanged();
  // Without a save in between, step 3 sees the non-finite loss and stops before its update.
  r = test::run_mmfree_limited("train --resume --out " + run + " --steps 5 --save-every 0 --lr 1e300", 120);
  EXPECT_TRUE(test::clean_failure(r, {"step 3: the loss is", "training stopped before this update",
                                      run + "/checkpoint.safetensors is left as it was"}));
  unchanged();
}

// Floats where integers belong were cast out of range (undefined behaviour, found by
// fuzz_tokenizer_json): a token id of 3e32, a data-loader position of 1e300.
TEST(Hardening, FloatWhereAnIntegerBelongs) {
  const std::string tok = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 3e32}, "merges": []}})";
  try {
    load_tokenizer_from_bytes(TokenizerKind::HuggingFace, tok, {}, "t.json");
    ADD_FAILURE() << "a float id was accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(test::has_all(e.what(), {"t.json: the id of token 'b' is 3e+32, not an integer"}));
  }
  try {
    LoaderState::from_json(nlohmann::json::parse(R"({"seed": 1, "epoch": 0, "cursor": 1e300})"), "ck");
    ADD_FAILURE() << "a float cursor was accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(test::has_all(e.what(), {"ck: malformed data-loader state: 'cursor' is not an integer"}));
  }
}

}  // namespace
}  // namespace mmfree
