// Flags and stored settings that once crashed, hung or misled (issue 16): each now gives correct
// output or one clear error, exit 1, within seconds and under 300 MB.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "message_checks.h"
#include "test_util.h"
#include "train/loss_plot.h"

namespace mmfree {
namespace {

// Losses spanning +-1e308 once gave an empty tick list (SIGSEGV), and 1e20 to 1e20 + 1 ulp a
// tick loop that never advanced (until memory ran out).
TEST(HardeningCli, PlotOfExtremeLosses) {
  EXPECT_EQ(nice_ticks(-1e308, 1e308, 6).size(), 5u);  // -1e308, -5e307 ... step 5e307 from -1e308
  EXPECT_EQ(nice_ticks(1e20, 1e20 * (1 + 0x1p-52), 6), (std::vector<double>{1e20, 1e20 * (1 + 0x1p-52)}));
  test::TempDir dir;
  for (const std::string& losses : {std::string("-1e308, 1e308"), std::string("1e20, 100000000000000016384")}) {
    const size_t comma = losses.find(',');
    std::ofstream(dir.file("log.jsonl")) << "{\"step\": 0, \"loss\": " << losses.substr(0, comma) << "}\n"
                                         << "{\"step\": 1, \"loss\": " << losses.substr(comma + 1) << "}\n";
    const auto r = test::run_mmfree_limited("plot --log " + dir.file("log.jsonl") + " --out " + dir.file("p.svg"), 30);
    EXPECT_EQ(r.exit_code, 0) << losses << ": " << r.err;
    EXPECT_EQ(r.signal, 0);
    EXPECT_LT(r.max_rss_kb, test::kMaxRunRssKb);
    const std::string svg = test::read_file(dir.file("p.svg"));
    EXPECT_NE(svg.find("<polyline"), std::string::npos) << losses;
    EXPECT_EQ(svg.find("nan"), std::string::npos) << losses;
  }
}

// --threads 100000 once aborted: threads that failed to start left joinable std::threads behind.
TEST(HardeningCli, DataPrepareWithHugeThreadCount) {
  test::TempDir dir;
  std::ofstream(dir.file("in.txt")) << "It was a bright cold day in April.\n\nThe clocks were striking thirteen.\n";
  const auto r = test::run_mmfree_limited("data prepare --tokenizer " + test::shared_dir() +
                                              "/tokenizers/llama/tokenizer.model --input " + dir.file("in.txt") +
                                              " --out " + dir.file("data") + " --val-fraction 0 --threads 100000",
                                          60);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.signal, 0);
  EXPECT_LT(r.max_rss_kb, test::kMaxRunRssKb);
  EXPECT_TRUE(std::filesystem::exists(dir.file("data/train.bin")));
}

// Sizes given as flags that once allocated up front: the repeat-penalty window, the generated ids,
// the benchmark's prompt.
TEST(HardeningCli, HugeCountFlags) {
  const std::string model = " --model " + test::tiny_a();
  auto r = test::run_mmfree_limited("generate" + model + " --prompt-ids 1,2 -n 3 --seed 1 --repeat-last-n 300000000 --json", 60);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(r.max_rss_kb, test::kMaxRunRssKb);
  // The same ids as the default window: no more than 5 tokens can enter either.
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"],
            nlohmann::json::parse(test::run_mmfree("generate" + model + " --prompt-ids 1,2 -n 3 --seed 1 --json").out)["ids"]);
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("generate" + model + " --prompt-ids 1 -n 1000000000000", 60),
                                  {"-n/--n-predict: 1000000000000 tokens, at most 2147483647"}));
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("bench" + model + " -p 2000000000 -n 1", 60),
                                  {"-p/--n-prompt: 2000000000 tokens, at most 1048576"}));
}

// A directory given as --file once read as an empty text.
TEST(HardeningCli, DirectoryAsFile) {
  test::TempDir dir;
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("tokenize --tokenizer " + test::shared_dir() + "/tokenizers/llama --file " +
                                   dir.path().string(),
                               30),
      {dir.path().string() + ": is a directory, not a text file"}));
  EXPECT_TRUE(test::clean_failure(
      test::run_mmfree_limited("generate --model " + test::default_model() + " --file " + dir.path().string(), 30),
      {"is a directory, not a text file"}));
}

// What a resumed run reads back from its checkpoint is trusted no further than the run directory.
TEST(HardeningCli, ResumeTrustsStoredSettingsOnlyWhereSafe) {
  test::TempDir dir;
  const std::string batch = " --batch-file " + test::tiny_a() + "/golden.safetensors";
  // A relative --config (in directory a/), resumed from another working directory.
  std::filesystem::create_directories(dir.file("a"));
  std::filesystem::copy_file(test::tiny_a() + "/config.json", dir.file("a/cfg.json"));
  const std::string run = dir.file("run");
  auto r = test::run_mmfree_in(dir.file("a"), "train --config cfg.json" + batch + " --steps 1 --out " + run);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_mmfree_in(dir.path().string(), "train --resume --out " + run + " --steps 2");
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // A stored --log outside the run directory is not written without being asked again.
  const std::string victim = dir.file("victim.txt");
  std::ofstream(victim) << "unrelated\n";
  const std::string run2 = dir.file("run2");
  ASSERT_EQ(test::run_mmfree("train --init-from " + test::tiny_a() + batch + " --steps 1 --log " + victim + " --out " + run2)
                .exit_code,
            0);
  std::ofstream(victim, std::ios::trunc) << "unrelated\n";
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("train --resume --out " + run2 + " --steps 2", 60),
                                  {"the checkpoint's log " + victim + " lies outside the run directory"}));
  EXPECT_EQ(test::read_file(victim), "unrelated\n");

  // A stored setting that fails is blamed on the checkpoint, not on a flag never passed.
  const std::string run3 = dir.file("run3");
  const std::string moved = dir.file("batch.safetensors");
  std::filesystem::copy_file(test::tiny_a() + "/golden.safetensors", moved);
  ASSERT_EQ(test::run_mmfree("train --init-from " + test::tiny_a() + " --batch-file " + moved + " --steps 1 --out " + run3)
                .exit_code,
            0);
  std::filesystem::remove(moved);
  EXPECT_TRUE(test::clean_failure(test::run_mmfree_limited("train --resume --out " + run3 + " --steps 2", 60),
                                  {"--batch-file (not given; taken from the checkpoint in " + run3 + ")"}));
}

}  // namespace
}  // namespace mmfree
