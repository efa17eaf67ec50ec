// The core commands end to end through the binary: logits, generate, info, usage errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "format/safetensors.h"
#include "test_util.h"

namespace mmfree {
namespace {

using test::run_mmfree;

const std::string kModel = "--model " + test::tiny_a();

TEST(CliCore, LogitsCommandMatchesGolden) {
  test::TempDir tmp;
  const std::string golden = test::tiny_a() + "/golden.safetensors";
  auto r = run_mmfree("logits " + kModel + " --input " + golden + " --output " + tmp.file("out.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  SafetensorsFile out(tmp.file("out.safetensors")), want(golden);
  const TensorView& got = out.get("logits");
  EXPECT_EQ(got.dtype, DType::F32);
  EXPECT_EQ(got.shape, want.get("logits").shape);
  auto c = test::compare_logits(got.to_f32().data(), want.get("logits").to_f32().data(), 2 * 37, 512);
  std::printf("[ metric ] mmfree logits vs golden: %s\n", test::describe(c).c_str());
  test::expect_matches_original(c);
  EXPECT_GE(c.argmax_agreement, 0.99);
}

TEST(CliCore, LogitsAcceptsI32Input) {
  test::TempDir tmp;
  SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
  const auto ids64 = golden.get("input_ids").to_i64();
  std::vector<int32_t> ids(ids64.begin(), ids64.end());
  SafetensorsWriter w;
  w.add("input_ids", DType::I32, {2, 37}, ids.data(), ids.size() * 4);
  w.write(tmp.file("in.safetensors"));
  auto r = run_mmfree("logits " + kModel + " --input " + tmp.file("in.safetensors") + " --output " + tmp.file("o.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto c = test::compare_logits(SafetensorsFile(tmp.file("o.safetensors")).get("logits").to_f32().data(),
                                golden.get("logits").to_f32().data(), 2 * 37, 512);
  test::expect_matches_original(c);
}

TEST(CliCore, LogitsRejectsBadInput) {
  test::TempDir tmp;
  std::vector<int64_t> bad = {1, 2, 512};
  SafetensorsWriter w;
  w.add("input_ids", DType::I64, {1, 3}, bad.data(), bad.size() * 8);
  w.write(tmp.file("oov.safetensors"));
  auto r = run_mmfree("logits " + kModel + " --input " + tmp.file("oov.safetensors") + " --output " + tmp.file("o"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mmfree: error: " + tmp.file("oov.safetensors") +
                       ": input_ids holds 512 at index 2, outside the vocabulary [0, 512)\n");

  SafetensorsWriter w2;
  w2.add("tokens", DType::I64, {1, 3}, bad.data(), bad.size() * 8);
  w2.write(tmp.file("noids.safetensors"));
  r = run_mmfree("logits " + kModel + " --input " + tmp.file("noids.safetensors") + " --output " + tmp.file("o"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mmfree: error: " + tmp.file("noids.safetensors") + ": missing tensor 'input_ids'\n");

  std::vector<float> f = {1, 2, 3};
  SafetensorsWriter w3;
  w3.add_f32("input_ids", {1, 3}, f);
  w3.write(tmp.file("float.safetensors"));
  r = run_mmfree("logits " + kModel + " --input " + tmp.file("float.safetensors") + " --output " + tmp.file("o"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mmfree: error: " + tmp.file("float.safetensors") + ": tensor 'input_ids' has dtype F32, expected I64 or I32\n");

  SafetensorsWriter w4;
  w4.add("input_ids", DType::I64, {3}, bad.data(), bad.size() * 8);
  w4.write(tmp.file("1d.safetensors"));
  r = run_mmfree("logits " + kModel + " --input " + tmp.file("1d.safetensors") + " --output " + tmp.file("o"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mmfree: error: " + tmp.file("1d.safetensors") +
                       ": tensor 'input_ids' must have shape [B, T] with B, T > 0, got [3]\n");
  EXPECT_FALSE(std::filesystem::exists(tmp.file("o")));  // nothing written on failure
}

TEST(CliCore, GenerateGreedyGivesGoldenIds) {
  SafetensorsFile golden(test::tiny_a() + "/golden.safetensors");
  std::string prompt;
  for (auto id : golden.get("prompt_ids").to_i64()) {
    if (!prompt.empty()) prompt += ' ';
    prompt += std::to_string(id);
  }
  auto r = run_mmfree("generate " + kModel + " --prompt-ids \"" + prompt + "\" -n 20 --temperature 0 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"].get<std::vector<int64_t>>(), golden.get("greedy_ids").to_i64());
}

TEST(CliCore, GenerateSameSeedSameIds) {
  const std::string args = "generate " + kModel + " --prompt-ids \"1 5 7\" -n 12 --temperature 1 --seed 42 --json";
  auto a = run_mmfree(args), b = run_mmfree(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(nlohmann::json::parse(a.out)["ids"], nlohmann::json::parse(b.out)["ids"]);
}

TEST(CliCore, GenerateRejectsBadPromptIds) {
  auto r = run_mmfree("generate " + kModel + " --prompt-ids \"1 x7\" -n 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mmfree: error: --prompt-ids: 'x7' is not a token id\n");
  r = run_mmfree("generate " + kModel + " --prompt-ids \"1 99999\" -n 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mmfree: error: --prompt-ids: id 99999 is outside the vocabulary [0, 512)\n");
}

TEST(CliCore, InfoReportsConfigAndCounts) {
  auto r = run_mmfree("info " + kModel + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["config"]["hidden_size"], 128);
  EXPECT_EQ(j["config"]["intermediate_size"], 512);  // null in the file: resolved by the SPEC rule
  // Independent count: 2 x [512,128] matrices, per layer 4 [128,128] + [1024,128] + [128,512].
  const int64_t ternary = 512 * 128 + 2 * (4 * 128 * 128 + 1024 * 128 + 128 * 512);
  EXPECT_EQ(j["parameters"]["ternary_weights"], ternary);
  EXPECT_EQ(j["parameters"]["embeddings"], 512 * 128);
  EXPECT_EQ(j["parameters"]["lower_bounds"], 2 * 128);
}

TEST(CliCore, UsageErrors) {
  auto r = run_mmfree("generate " + kModel + " --bogus 3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
  r = run_mmfree("logits " + kModel);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--input is required"), std::string::npos) << r.err;
  r = run_mmfree("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("usage: mmfree COMMAND", 0), 0u) << r.err;  // a short usage (tests/test_first_hour.cpp)
  r = run_mmfree("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;
  r = run_mmfree("generate " + kModel + " -n -3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("-n"), std::string::npos) << r.err;
}

TEST(CliCore, EveryCommandHasHelp) {
  auto top = run_mmfree("--help");
  ASSERT_EQ(top.exit_code, 0);
  for (const char* cmd : {"logits", "generate", "info"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
    auto r = run_mmfree(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("--model"), std::string::npos) << cmd;
  }
}

}  // namespace
}  // namespace mmfree
