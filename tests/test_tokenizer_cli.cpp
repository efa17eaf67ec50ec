// mmfree tokenize / detokenize / tokenizer train, through the binary.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace mmfree {
namespace {

using json = nlohmann::json;
using test::run_mmfree;

std::string llama() { return test::shared_dir() + "/tokenizers/llama/tokenizer.model"; }
std::string mistral() { return test::shared_dir() + "/tokenizers/mistral/tokenizer.json"; }

using test::read_file;

// "Hello world" is conformance text 11: llama 15043 3186, mistral 22557 1526 (BOS is 1 in both).
TEST(TokenizeCli, JsonIdsAndPieces) {
  auto r = run_mmfree("tokenize --tokenizer " + llama() + " --text 'Hello world' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), json::parse(R"({"ids": [1, 15043, 3186], "pieces": ["<s>", "▁Hello", "▁world"]})"));
  r = run_mmfree("tokenize --model " + test::shared_dir() + "/tokenizers/mistral --text 'Hello world' --json --no-bos");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ids"], json::parse("[22557, 1526]"));
}

TEST(TokenizeCli, PlainOutputOneTokenPerLine) {
  const auto r = run_mmfree("tokenize --tokenizer " + llama() + " --text 'Hello world'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1\t<s>\n15043\t\xE2\x96\x81Hello\n3186\t\xE2\x96\x81world\n");
}

TEST(TokenizeCli, SpecialTokensAndEmptyText) {
  auto r = run_mmfree("tokenize --tokenizer " + mistral() + " --text '</s>' --json");  // parsed by default
  EXPECT_EQ(json::parse(r.out)["ids"], json::parse("[1, 2]"));
  r = run_mmfree("tokenize --tokenizer " + mistral() + " --text '</s>' --parse-special --json");
  EXPECT_EQ(json::parse(r.out)["ids"], json::parse("[1, 2]"));
  r = run_mmfree("tokenize --tokenizer " + mistral() + " --text '</s>' --no-parse-special --json");
  EXPECT_GT(json::parse(r.out)["ids"].size(), 2u);
  for (const auto& tok : {llama(), mistral()}) {
    r = run_mmfree("tokenize --tokenizer " + tok + " --text '' --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out), json::parse(R"({"ids": [1], "pieces": ["<s>"]})")) << tok;
  }
}

TEST(DetokenizeCli, IdsToText) {
  auto r = run_mmfree("detokenize --tokenizer " + llama() + " --ids '15043 3186'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello world");
  r = run_mmfree("detokenize --tokenizer " + mistral() + " --ids '[1, 22557, 1526]'");
  EXPECT_EQ(r.out, "Hello world");
  r = run_mmfree("detokenize --tokenizer " + mistral() + " --ids '5 32000'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mmfree: error: --ids: id 32000 is outside the vocabulary [0, 32000)\n");
}

TEST(TokenizeCli, BadInput) {
  test::TempDir dir;
  std::ofstream(dir.file("bad.txt"), std::ios::binary) << "ok\xC3(";
  auto r = run_mmfree("tokenize --tokenizer " + llama() + " --file " + dir.file("bad.txt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mmfree: error: " + dir.file("bad.txt") + " is not valid UTF-8 (byte 2: 0xC3)\n");
  std::ofstream(dir.file("tokenizer.json")) << "not json";
  r = run_mmfree("tokenize --tokenizer " + dir.path().string() + " --text hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("mmfree: error: " + dir.file("tokenizer.json") + ": not a valid tokenizer.json"), std::string::npos)
      << r.err;
  r = run_mmfree("tokenize --model " + test::tiny_a() + " --text hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mmfree: error: " + test::tiny_a() + ": no tokenizer here (expected tokenizer.json or tokenizer.model)\n");
}

TEST(TokenizeCli, BenchReportsThroughput) {
  const auto r = run_mmfree("tokenize --tokenizer " + llama() + " --text 'Hello world' --bench 3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["tokens"], 3);
  EXPECT_GT(j["mb_per_s"].get<double>(), 0);
}

TEST(TokenizerTrainCli, TrainsALosslessTokenizer) {
  test::TempDir dir;
  const std::string slice = dir.file("slice.txt");
  std::ofstream(slice, std::ios::binary) << read_file(test::shared_dir() + "/data/corpus/austen_emma.txt").substr(0, 100000);
  auto r = run_mmfree("tokenizer train --input " + slice + " --vocab-size 400 --out " + dir.file("tok"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // It says what it wrote, where.
  EXPECT_EQ(r.out.rfind("wrote " + dir.file("tok") + "/tokenizer.model (400 tokens, bpe, ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" and " + dir.file("tok") + "/tokenizer_config.json in "), std::string::npos) << r.out;
  const auto tok = load_tokenizer(dir.file("tok"));
  EXPECT_EQ(tok->kind(), TokenizerKind::SentencePiece);
  EXPECT_EQ(tok->vocab_size(), 400);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  // Lossless on text it never saw, unknown characters included (byte fallback).
  const std::string text = read_file(test::shared_dir() + "/data/corpus/world_english_bible.txt").substr(0, 20000) +
                           "\n  caf\xC3\xA9 \xF0\x9F\xA6\x99\t1234\n";
  EXPECT_EQ(tok->decode(tok->encode(text)), text);
  // Usable by the commands.
  r = run_mmfree("tokenize --tokenizer " + dir.file("tok") + " --text 'Emma Woodhouse' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json tokens = json::parse(r.out);
  std::string ids;
  for (const auto& id : tokens["ids"]) ids += std::to_string(id.get<int>()) + " ";
  r = run_mmfree("detokenize --tokenizer " + dir.file("tok") + "/tokenizer.model --ids '" + ids + "'");
  EXPECT_EQ(r.out, "Emma Woodhouse") << r.err;
}

TEST(TokenizerTrainCli, BadInput) {
  test::TempDir dir;
  const std::string slice = dir.file("slice.txt");
  std::ofstream(slice) << "a few words\n";
  auto r = run_mmfree("tokenizer train --input " + slice + " --vocab-size 100 --out " + dir.file("tok"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("mmfree: error: tokenizer training failed: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Vocabulary size is smaller than required_chars"), std::string::npos) << r.err;
  r = run_mmfree("tokenizer train --input " + dir.file("missing.txt") + " --vocab-size 400 --out " + dir.file("tok"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "mmfree: error: " + dir.file("missing.txt") + ": cannot open\n");
}

}  // namespace
}  // namespace mmfree
