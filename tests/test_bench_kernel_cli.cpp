// mmfree bench-kernel: a small run prints the promised JSON keys; bad flags fail with one clear message.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace mmfree {
namespace {

TEST(BenchKernelCli, SmallRunPrintsJson) {
  for (const char* format : {"tq2_0_r8", "tq2_0", "tq1_0", "i8"}) {
    const auto r = test::run_mmfree(std::string("bench-kernel --m 37 --k 512 --n 3 --reps 3 --hot --json --threads 2 --format ") + format);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_GT(j.at("us_per_run").get<double>(), 0.0);
    EXPECT_GT(j.at("gops").get<double>(), 0.0);
    EXPECT_EQ(j.at("m").get<int64_t>(), 37);
    EXPECT_EQ(j.at("format").get<std::string>(), format);
    EXPECT_NEAR(j.at("gops").get<double>(), 2.0 * 37 * 3 * 512 / j.at("us_per_run").get<double>() / 1e3, 1e-9);
  }
}

TEST(BenchKernelCli, SmallMatrixFromCacheGivesNoShareOfTheBandwidth) {
  // 16 x 256 ternary weights: 6 copies (3 warm-up, 3 timed) of 1 kB are read from cache whatever the
  // machine; a share of the memory bandwidth (117.8% in issue 20) would mean nothing.
  const auto r = test::run_mmfree("bench-kernel --m 16 --k 256 --n 1 --reps 3 --json --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  // 16 rows x 66 bytes (TQ2_0's 2.0625 bits a weight) = 1056, each copy padded to a cache line: 1088.
  EXPECT_EQ(j.at("working_set_bytes").get<int64_t>(), 6 * 1088);
  if (j.at("last_level_cache_bytes").get<int64_t>() >= (1 << 20)) {
    EXPECT_TRUE(j.at("weights_fit_in_cache").get<bool>());
    EXPECT_TRUE(j.at("roofline_fraction").is_null()) << j.dump();
  }
}

TEST(BenchKernelCli, TextOutputByDefault) {
  const auto r = test::run_mmfree("bench-kernel --m 16 --k 256 --n 1 --reps 2 --hot --isa scalar");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("G int-ops/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("scalar"), std::string::npos) << r.out;
}

TEST(BenchKernelCli, BadFlagsFailClearly) {
  struct Case {
    const char* args;
    int code;
    const char* message;
  };
  for (const Case& c : {Case{"--k 100", 1, "mmfree: error: --k 100: format tq2_0_r8 needs a multiple of 256"},
                        Case{"--format q4_0", 1, "unknown ternary weight format 'q4_0'"},
                        Case{"--isa neon", 1, "unknown instruction set 'neon'"},
                        Case{"--threads 0", 2, "--threads: Value 0 not in range 1 to 1024"},
                        Case{"--m 0", 2, "--m: Value 0 not in range"},
                        Case{"--n x", 2, "--n"},
                        Case{"--device ref", 1, "mmfree: error: --device ref: bench-kernel times cpu, cuda or cuda:N"},
                        Case{"--device cuda --isa scalar", 1, "mmfree: error: --isa and --threads apply to --device cpu"},
                        Case{"--products 2", 1, "mmfree: error: --products and --path apply to --device cuda"},
                        Case{"--path tiled", 1, "mmfree: error: --products and --path apply to --device cuda"},
                        Case{"--products 5", 2, "--products: Value 5 not in range 1 to 4"},
                        Case{"--device cuda --path fast", 1, "mmfree: error: --path fast: auto, warp or tiled"}}) {
    const auto r = test::run_mmfree(std::string("bench-kernel --hot --reps 1 ") + c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
  }
}

// On a GPU the product runs and reports as on the CPU; elsewhere (CI) one line says why not: this
// build has no CUDA, or this machine no GPU.
TEST(BenchKernelCli, CudaRunsOrSaysWhyNot) {
  const auto r = test::run_mmfree("bench-kernel --device cuda --m 300 --k 512 --n 3 --reps 2 --json");
  if (r.exit_code != 0) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.err.rfind("mmfree: error: --device cuda: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    GTEST_SKIP() << "no CUDA here: " << r.err;
  }
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("m").get<int64_t>(), 300);
  EXPECT_EQ(j.at("format").get<std::string>(), "mma16");
  EXPECT_EQ(j.at("weight_bytes").get<int64_t>(), 304 * 512 / 4);  // rows padded to 16-row tiles
  EXPECT_GT(j.at("us_per_run").get<double>(), 0.0);
  EXPECT_NEAR(j.at("gops").get<double>(), 2.0 * 300 * 3 * 512 / j.at("us_per_run").get<double>() / 1e3, 1e-9);
  EXPECT_GE(j.at("copies").get<int>(), 2);
  // Three products in one launch: all three counted.
  const auto r3 = test::run_mmfree("bench-kernel --device cuda --m 300 --k 512 --n 130 --products 3 --path warp --reps 2 --json");
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  const auto j3 = nlohmann::json::parse(r3.out);
  EXPECT_EQ(j3.at("products").get<int>(), 3);
  EXPECT_EQ(j3.at("path").get<std::string>(), "warp");
  EXPECT_EQ(j3.at("weight_bytes").get<int64_t>(), 3 * 304 * 512 / 4);
  EXPECT_NEAR(j3.at("gops").get<double>(), 2.0 * 3 * 300 * 130 * 512 / j3.at("us_per_run").get<double>() / 1e3, 1e-9);
}

}  // namespace
}  // namespace mmfree
