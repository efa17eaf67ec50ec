// A converted model file carries its checkpoint's tokenizer: the file alone tokenizes and
// generates text exactly as the directory it came from.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "util/base64.h"
#include "util/error.h"

namespace mmfree {
namespace {

namespace fs = std::filesystem;
using test::run_mmfree;

TEST(Base64, RoundTripsEveryLengthAndByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= 7; ++n) EXPECT_EQ(base64_decode(base64_encode(all.substr(0, n)), "t"), all.substr(0, n));
  EXPECT_EQ(base64_decode(base64_encode(all), "t"), all);
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");  // RFC 4648 test vectors
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_decode("Zm9vYg==", "t"), "foob");
}

TEST(Base64, RejectsBadText) {
  EXPECT_THROW(base64_decode("Zm9", "t"), Error);
  EXPECT_THROW(base64_decode("Zm=v", "t"), Error);
  EXPECT_THROW(base64_decode("Z!9v", "t"), Error);
}

TEST(TokenizerEmbedding, ConvertedFileTokenizesAndGeneratesLikeTheDirectory) {
  test::TempDir tmp;
  // A small tokenizer (vocab 500 <= tiny_a's 512) trained on a slice of the corpus, beside tiny_a's weights.
  std::ifstream in(test::shared_dir() + "/data/corpus/" + fs::directory_iterator(test::shared_dir() + "/data/corpus")->path().filename().string());
  std::string text(60000, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  std::ofstream(tmp.file("slice.txt")) << text;
  const std::string dir = tmp.file("model");
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(test::tiny_a() + "/" + f, dir + "/" + f);
  auto r = run_mmfree("tokenizer train --input " + tmp.file("slice.txt") + " --vocab-size 500 --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_mmfree("convert --model " + dir + " --out " + tmp.file("m.gguf"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::string phrase = "\"It is a truth universally acknowledged, ünïcödé\"";
  auto from_dir = run_mmfree("tokenize --model " + dir + " --text " + phrase + " --json");
  auto from_file = run_mmfree("tokenize --model " + tmp.file("m.gguf") + " --text " + phrase + " --json");
  ASSERT_EQ(from_dir.exit_code, 0) << from_dir.err;
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(nlohmann::json::parse(from_dir.out)["ids"], nlohmann::json::parse(from_file.out)["ids"]);
  EXPECT_GT(nlohmann::json::parse(from_dir.out)["ids"].size(), 5u);

  const std::string gen = " --prompt \"It is a truth\" -n 8 --temperature 0 --ignore-eos --json";
  auto g_dir = run_mmfree("generate --model " + dir + gen), g_file = run_mmfree("generate --model " + tmp.file("m.gguf") + gen);
  ASSERT_EQ(g_dir.exit_code, 0) << g_dir.err;
  ASSERT_EQ(g_file.exit_code, 0) << g_file.err;
  EXPECT_EQ(nlohmann::json::parse(g_dir.out)["text"], nlohmann::json::parse(g_file.out)["text"]);
}

TEST(TokenizerEmbedding, FileWithoutTokenizerSaysSo) {
  test::TempDir tmp;
  auto r = run_mmfree("convert --model " + test::tiny_a() + " --out " + tmp.file("t.gguf"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_mmfree("tokenize --model " + tmp.file("t.gguf") + " --text hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(tmp.file("t.gguf")), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no tokenizer"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mmfree
