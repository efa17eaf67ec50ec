// What a new user meets first (issue 20): usage errors in mmfree's voice with a suggestion, a fresh
// random seed per generate run (printed, so it can be repeated), progress lines, what `tokenizer
// train` wrote, an installed binary that finds its model.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_util.h"
#include "util/progress.h"
#include "util/spelling.h"

namespace mmfree {
namespace {

using json = nlohmann::json;
using test::run_mmfree;

TEST(Spelling, EditDistance) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);  // the textbook pair: k->s, e->i, +g
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("--promt", "--prompt"), 1u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
  EXPECT_EQ(edit_distance("trian", "train"), 1u);  // one swap of neighbours
  EXPECT_EQ(edit_distance("ca", "abc"), 3u);       // no substring edited twice (plain Damerau would say 2)
}

TEST(Spelling, ClosestMatch) {
  const std::vector<std::string> flags = {"--prompt", "--prompt-ids", "--temperature", "--top-k", "--top-p", "--seed"};
  EXPECT_EQ(closest_match("--promt", flags), "--prompt");
  EXPECT_EQ(closest_match("--temp", flags), "--temperature");  // the only flag it begins
  EXPECT_EQ(closest_match("--sed", flags), "--seed");
  EXPECT_EQ(closest_match("--bogus", flags), "");              // nothing near
  EXPECT_EQ(closest_match("--top-q", flags), "");              // --top-k and --top-p equally near
  EXPECT_EQ(closest_match("genrate", {"generate", "tokenize", "info"}), "generate");
}

TEST(Progress, StatusLine) {
  EXPECT_EQ(progress_status("scoring", 250, 1000, "tokens", 5, 10),
            "scoring  [##........]  25% 250/1.0k tokens  50 tokens/s  5s  ETA 15s");
  EXPECT_EQ(progress_status("writing x.gguf", 2e9, 4e9, "B", 10, 4),
            "writing x.gguf  [##..]  50% 2.00 GB/4.00 GB  200.0 MB/s  10s  ETA 10s");
  EXPECT_EQ(progress_status("saving step 5", 0, 0, "", 72, 20), "saving step 5  1m12s");  // total unknown
  EXPECT_EQ(progress_status("writing y", 3e6, 0, "B", 2, 20), "writing y  3.0 MB  1.5 MB/s  2s");
  EXPECT_EQ(progress_status("validation", 5, 16, "batches", 216, 4),
            "validation  [#...]  31% 5/16 batches  0.023 batches/s  3m36s  ETA 7m55s");
  EXPECT_EQ(format_bytes(812), "812 B");
  EXPECT_EQ(format_bytes(4.49e9), "4.49 GB");
}

TEST(Progress, DrawnOnlyWhenEnabledAndClearedAtTheEnd) {
  testing::internal::CaptureStderr();
  {
    Progress p("quiet phase", 10, "items");
    p.update(5);
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");

  set_progress_enabled(true);
  testing::internal::CaptureStderr();
  {
    Progress p("shown phase", 10, "items");
    p.update(5);
    std::this_thread::sleep_for(std::chrono::milliseconds(900));  // past the 0.5 s silence, a few ticks
  }
  const std::string err = testing::internal::GetCapturedStderr();
  set_progress_enabled(false);
  EXPECT_NE(err.find("\r\x1b[Kshown phase  ["), std::string::npos) << err;
  EXPECT_NE(err.find(" 50% 5/10 items"), std::string::npos) << err;
  ASSERT_GE(err.size(), 4u);
  EXPECT_EQ(err.substr(err.size() - 4), "\r\x1b[K");  // the line is gone when the phase ends
}

TEST(FirstHour, CommandsAreQuietWhenStderrIsNoTerminal) {
  // run_mmfree reads stderr through a pipe, as scripts and CI do: no progress, no control codes.
  test::TempDir dir;
  std::ofstream(dir.file("t.txt")) << "It is a truth universally acknowledged, that a single man in possession.";
  const auto r = run_mmfree("perplexity --file " + dir.file("t.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

// Every usage error: one line in mmfree's format, exit status 2.
void expect_usage_error(const std::string& args, const std::string& line) {
  const auto r = run_mmfree(args);
  EXPECT_EQ(r.exit_code, 2) << args;
  EXPECT_EQ(r.err, "mmfree: error: " + line + "\n") << args;
}

TEST(FirstHour, UsageErrorsSuggestTheClosestFlagOrCommand) {
  expect_usage_error("generate --promt hi",
                     "unknown flag --promt for generate (did you mean --prompt?); see mmfree generate --help");
  expect_usage_error("generate --promt=hi",
                     "unknown flag --promt for generate (did you mean --prompt?); see mmfree generate --help");
  expect_usage_error("generate --temperature 0.5 --bogus", "unknown flag --bogus for generate; see mmfree generate --help");
  expect_usage_error("tokenizer train --vocab 10", "unknown flag --vocab for tokenizer train (did you mean "
                                                   "--vocab-size?); see mmfree tokenizer train --help");
  expect_usage_error("genrate -p x", "unknown command 'genrate' (did you mean generate?); mmfree --help lists them");
  expect_usage_error("tokenizer", "tokenizer needs a command: train; see mmfree tokenizer --help");
  expect_usage_error("tokenizer trian --out x", "unknown command 'tokenizer trian' (did you mean train?); see mmfree tokenizer --help");
  expect_usage_error("perplexity", "perplexity: --file is required; see mmfree perplexity --help");
  expect_usage_error("generate -n abc", "generate: --n-predict: expected a number >= 0, got abc; see mmfree generate --help");
  expect_usage_error("perplexity --file x --ctx 0", "perplexity: --ctx: expected a number > 0, got 0; see mmfree perplexity --help");
  expect_usage_error("data prep", "unknown command 'data prep' (did you mean prepare?); see mmfree data --help");
}

TEST(FirstHour, BareCommandPrintsAShortUsage) {
  const auto r = run_mmfree("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("usage: mmfree COMMAND [FLAGS]", 0), 0u) << r.err;
  for (const char* cmd : {"generate", "train", "tokenizer", "perplexity"})
    EXPECT_NE(r.err.find("\n  " + std::string(cmd) + " "), std::string::npos) << cmd;
  EXPECT_EQ(r.err.find("A subcommand is required"), std::string::npos);
}

TEST(FirstHour, GenerateDrawsARandomSeedAndPrintsIt) {
  const std::string args = "generate --model " + test::tiny_a() + " --prompt-ids '1 5 7' -n 24 --temperature 1 --top-k 0 "
                           "--top-p 1 --min-p 0 --json";
  const json a = json::parse(run_mmfree(args).out), b = json::parse(run_mmfree(args).out);
  ASSERT_TRUE(a.contains("seed") && b.contains("seed"));
  // Two draws of 32 bits agree with probability 2^-32.
  EXPECT_NE(a["seed"], b["seed"]);
  // The printed seed repeats the run.
  const json again = json::parse(run_mmfree(args + " --seed " + a["seed"].dump()).out);
  EXPECT_EQ(again["ids"], a["ids"]);
  EXPECT_EQ(again["seed"], a["seed"]);
  // And the summary line names it.
  const auto r = run_mmfree("generate --model " + test::tiny_a() + " --prompt-ids '1 5 7' -n 4 --seed 12345");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("| seed 12345\n"), std::string::npos) << r.err;
}

TEST(FirstHour, InstalledBinaryFindsItsModel) {
  test::TempDir prefix;
  const std::string build_dir = std::filesystem::path(test::mmfree_binary()).parent_path().string();
  // (Temp paths and the build directory hold no spaces: no quoting.)
  const std::string log = prefix.file("install.log");
  const auto install = std::system(("cmake --install " + build_dir + " --prefix " + prefix.path().string() + " > " + log + " 2>&1").c_str());
  ASSERT_EQ(install, 0) << test::read_file(log);
  const std::string model = prefix.file("share/mmfree/default.gguf");
  ASSERT_TRUE(std::filesystem::is_regular_file(prefix.file("bin/mmfree")));
  ASSERT_TRUE(std::filesystem::is_regular_file(model));
  EXPECT_EQ(std::filesystem::file_size(model), std::filesystem::file_size(test::default_model()));
  // The installed binary uses the installed model, not the source tree's.
  unsetenv("MMFREE_MODEL");
  const std::string out = prefix.file("info.txt");
  const std::string binary = prefix.file("bin/mmfree");
  ASSERT_EQ(std::system((binary + " info > " + out + " 2>&1").c_str()), 0)
      << test::read_file(out);
  EXPECT_NE(test::read_file(out).find("model        " + model + " "), std::string::npos) << test::read_file(out);
}

}  // namespace
}  // namespace mmfree

namespace mmfree {
namespace {

TEST(FirstHour, CtestNamesCarryNoParameterBytes) {
  // gtest_discover_tests writes the ctest names here; parameterised tests are named by their generators.
  const std::string build_dir = std::filesystem::path(test::mmfree_binary()).parent_path().string();
  const std::string names = test::read_file(build_dir + "/mmfree_tests[1]_tests.cmake");
  if (names.empty()) GTEST_SKIP() << "no ctest discovery file in " << build_dir;
  EXPECT_NE(names.find("add_test([=[AllIsas/TernaryKernelsOn.Tq2MatchesReference/scalar]=]"), std::string::npos);
  EXPECT_NE(names.find("add_test([=[OddSizes/TrainBitLinearTest.StraightThroughBackward/n1_in37_out5]=]"), std::string::npos);
  EXPECT_EQ(names.find("GetParam()"), std::string::npos);
}

}  // namespace
}  // namespace mmfree
