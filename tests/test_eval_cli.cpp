// `mmfree eval` end to end on the shipped model: every task runs, --json has the harness's metric
// names with their standard errors and the item counts, --output has every item's log-likelihoods,
// the forked and the from-scratch reading agree, and bad input fails with one clean message.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "message_checks.h"
#include "test_util.h"

namespace mmfree {
namespace {

std::string data_flag() { return " --data " + test::shared_dir() + "/data/eval"; }

TEST(EvalCli, EveryTaskWithItsMetricsAndStderrs) {
  test::TempDir dir;
  // Every task but WikiText (whose pages are long; the next test gives it a short file).
  const auto r = test::run_mmfree("eval --model " + test::default_model() +
                                  " --task arc_easy,arc_challenge,hellaswag,piqa,winogrande,openbookqa,boolq,lambada"
                                  " --limit 3 --json --output " +
                                  dir.file("items.jsonl") + data_flag());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& res = j.at("results");
  for (const char* t : {"arc_easy", "arc_challenge", "hellaswag", "piqa", "openbookqa"}) {
    EXPECT_EQ(res.at(t).at("items"), 3) << t;
    for (const char* m : {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr"})
      EXPECT_TRUE(res.at(t).contains(m)) << t << m;
    EXPECT_GE(res.at(t).at("acc").get<double>(), 0.0);
    EXPECT_LE(res.at(t).at("acc").get<double>(), 1.0);
  }
  for (const char* t : {"winogrande", "boolq"}) {
    EXPECT_TRUE(res.at(t).contains("acc_stderr"));
    EXPECT_FALSE(res.at(t).contains("acc_norm")) << t;
  }
  EXPECT_GT(res.at("lambada").at("perplexity").get<double>(), 1.0);
  EXPECT_GT(res.at("lambada").at("perplexity_stderr").get<double>(), 0.0);
  // 3 items per task in the per-item file, each with one log-likelihood per choice.
  const std::string items = test::read_file(dir.file("items.jsonl"));
  size_t lines = 0, start = 0;
  for (size_t nl; (nl = items.find('\n', start)) != std::string::npos; start = nl + 1, ++lines) {
    const auto it = nlohmann::json::parse(items.substr(start, nl - start));
    if (it.at("task") == "hellaswag") {
      EXPECT_EQ(it.at("loglikelihoods").size(), 4u);
    }
    for (double ll : it.at("loglikelihoods")) EXPECT_LT(ll, 0.0);
  }
  EXPECT_EQ(lines, 24u);
}

TEST(EvalCli, WikitextPerplexitiesFromItsWindows) {
  // Two short pages in the shared copy's layout (CRLF, blank lines empty); --max-length 8 makes
  // several rolling windows per page.
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("wikitext"));
  std::ofstream(dir.file("wikitext/wiki.test.raw"), std::ios::binary)
      << "\r\n = One = \r\n\r\n It was a dark night , and the rain fell . \r\n\r\n"
         " = Two = \r\n\r\n The 2 @,@ 000 ships sailed ( slowly ) home . \r\n\r\n";
  const auto r = test::run_mmfree("eval --model " + test::default_model() +
                                  " --task wikitext --max-length 8 --json --data " + dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto w = nlohmann::json::parse(r.out).at("results").at("wikitext");
  EXPECT_EQ(w.at("items"), 2);
  EXPECT_TRUE(w.at("bits_per_byte_stderr").is_null());  // the harness reports none
  // Same log-likelihood over fewer words than bytes: word perplexity = byte perplexity ^ (bytes / words).
  const double bpb = w.at("bits_per_byte"), word = w.at("word_perplexity"), byte = w.at("byte_perplexity");
  EXPECT_NEAR(std::log2(byte), bpb, 1e-12);
  EXPECT_GT(word, byte);
}

TEST(EvalCli, ForkedAndFromScratchGiveTheSameLogLikelihoods) {
  test::TempDir dir;
  const std::string base =
      "eval --model " + test::default_model() + " --task hellaswag,winogrande --limit 8" + data_flag();
  ASSERT_EQ(test::run_mmfree(base + " --output " + dir.file("fork.jsonl")).exit_code, 0);
  ASSERT_EQ(test::run_mmfree(base + " --from-scratch --output " + dir.file("scratch.jsonl")).exit_code, 0);
  const std::string a = test::read_file(dir.file("fork.jsonl")), b = test::read_file(dir.file("scratch.jsonl"));
  ASSERT_FALSE(a.empty());
  size_t sa = 0, sb = 0, n = 0;
  for (size_t ea, eb; (ea = a.find('\n', sa)) != std::string::npos && (eb = b.find('\n', sb)) != std::string::npos;
       sa = ea + 1, sb = eb + 1, ++n) {
    const auto x = nlohmann::json::parse(a.substr(sa, ea - sa)), y = nlohmann::json::parse(b.substr(sb, eb - sb));
    ASSERT_EQ(x.at("loglikelihoods").size(), y.at("loglikelihoods").size());
    for (size_t k = 0; k < x.at("loglikelihoods").size(); ++k) {
      const double u = x["loglikelihoods"][k], v = y["loglikelihoods"][k];
      EXPECT_NEAR(u, v, 1e-9 * std::abs(v)) << "item " << n << " choice " << k;
    }
  }
  EXPECT_EQ(n, 16u);
}

TEST(EvalCli, BadInputFailsCleanly) {
  auto r = test::run_mmfree("eval --model " + test::default_model() + " --task nope" + data_flag());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(test::has_all(r.err, {"mmfree: error: --task: unknown task 'nope'"}));
  test::TempDir dir;
  r = test::run_mmfree("eval --model " + test::default_model() + " --task piqa --data " + dir.path().string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(test::has_all(r.err, {"mmfree: error:", "valid.jsonl", "cannot open"}));
  r = test::run_mmfree("eval --task piqa --limit 0" + data_flag());
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace mmfree
