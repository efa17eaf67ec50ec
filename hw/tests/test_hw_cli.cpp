// `mmfree hw-sim` as a user runs it: its greedy ids against `mmfree generate` on the ref backend
// (another command, another code path), and its --preset figures' consistency.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace mmfree::test {
namespace {

nlohmann::json run_json(const std::string& args) {
  const CommandResult r = run_mmfree(args);
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(HwSimCli, DefaultModelGivesTheGreedyIdsOfTheRefBackend) {
  const std::string prompt = "--prompt-ids \"1 610 350 261 1679 535 4039\" -n 16 --json";  // "It is a truth universally"
  const auto hw = run_json("hw-sim --model " + default_model() + " " + prompt);
  const auto ref = run_json("generate --model " + default_model() + " --device ref --temperature 0 " + prompt);
  EXPECT_EQ(hw["ids"].get<std::vector<int64_t>>(), ref["ids"].get<std::vector<int64_t>>());
  EXPECT_GT(hw["cycles_per_token"].get<double>(), 0);
  EXPECT_GT(hw["weight_bytes_per_token"].get<double>(), 0);
  std::printf("[ hw ] mmfree hw-sim, default model: %.0f cycles per token, %.0f weight bytes per token\n",
              hw["cycles_per_token"].get<double>(), hw["weight_bytes_per_token"].get<double>());
}

TEST(HwSimCli, PresetCyclesAddUp) {
  const auto j = run_json("hw-sim --preset 370M --json");
  // 24 blocks and the head; weight bytes: 16-byte beats at LANES = 64.
  EXPECT_EQ(j["cycles_per_token"].get<int64_t>(), 24 * j["cycles_per_block"].get<int64_t>() + j["cycles_head"].get<int64_t>());
  EXPECT_EQ(j["weight_bytes_per_token"].get<int64_t>(), 16 * j["weight_beats_per_token"].get<int64_t>());
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), 200e6 / j["cycles_per_token"].get<double>(), 1e-9);
}

TEST(HwSimCli, BadInputGetsOneClearError) {
  for (const std::string& args : std::vector<std::string>{"hw-sim", "hw-sim --preset 9B", "hw-sim --model " + default_model() + " --prompt-ids \"1 x\"",
                                 "hw-sim --model /nonexistent.gguf --prompt-ids 1"}) {
    const CommandResult r = run_mmfree(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(r.err.rfind("mmfree: error: ", 0), 0u) << args << ": " << r.err;
  }
}

}  // namespace
}  // namespace mmfree::test
