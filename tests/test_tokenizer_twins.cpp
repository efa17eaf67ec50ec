// The fast encoders against simple twins: the tokenizer.json BPE (heap of merges, word cache,
// inert-token runs) against a plain quadratic BPE written from the file's definition, and the
// SentencePiece encoder (which encodes each distinct word once) against the library run on the
// whole text.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <fstream>
#include <unordered_map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/train_tokenizer.h"

namespace mmfree {
namespace {

using test::read_file;

// BPE as the Hugging Face documentation states it: prepend "▁" and replace spaces by it; one
// symbol per character (or its <0xNN> bytes when the character is not a token); then again and
// again merge the adjacent pair of lowest merge rank, leftmost first, until none is left.
class PlainBpe {
 public:
  explicit PlainBpe(const std::string& path) {
    const auto j = nlohmann::json::parse(read_file(path));
    for (const auto& [piece, id] : j["model"]["vocab"].items()) vocab_[piece] = id.get<int32_t>();
    int32_t rank = 0;
    for (const auto& m : j["model"]["merges"]) ranks_[m.get<std::string>()] = rank++;
  }

  std::vector<int32_t> encode(const std::string& text) const {
    if (text.empty()) return {};
    std::string norm = "\xE2\x96\x81";
    for (char c : text) norm += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
    std::vector<std::string> syms;
    for (size_t i = 0; i < norm.size();) {
      const auto b = static_cast<unsigned char>(norm[i]);
      const size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
      const std::string ch = norm.substr(i, len);
      if (vocab_.count(ch)) {
        syms.push_back(ch);
      } else {
        for (char byte : ch) {
          char tok[8];
          std::snprintf(tok, sizeof tok, "<0x%02X>", static_cast<unsigned>(static_cast<unsigned char>(byte)));
          syms.push_back(tok);
        }
      }
      i += len;
    }
    for (;;) {
      int32_t best = INT32_MAX;
      size_t at = 0;
      for (size_t i = 0; i + 1 < syms.size(); ++i) {
        const auto it = ranks_.find(syms[i] + " " + syms[i + 1]);
        if (it != ranks_.end() && it->second < best) {
          best = it->second;
          at = i;
        }
      }
      if (best == INT32_MAX) break;
      syms[at] += syms[at + 1];
      syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    std::vector<int32_t> ids;
    for (const auto& s : syms) ids.push_back(vocab_.at(s));
    return ids;
  }

 private:
  std::unordered_map<std::string, int32_t> vocab_, ranks_;
};

// Random texts from pieces that stress the boundaries: runs of spaces, newlines, tabs, digits,
// accented letters, CJK, emoji (byte fallback), words that repeat (the word cache), and, unless
// told otherwise, the space marker "▁" written out.
std::string random_text(std::mt19937& rng, size_t pieces, bool with_marker = true) {
  static const std::vector<std::string> parts = {
      "the", "The", " ", "  ", "   ", "\n", "\n\n", "\t", "Hello", "world", "!", ",", ".", "'s", "3", "33", "2024",
      "caf\xC3\xA9", "\xC3\x84pfel", "\xE6\x88\x91", "\xF0\x9F\xA6\x99", "\xE2\x96\x81", "don't", "--", "(", ")",
      "x", "qu", "ing", "tion", "\xD0\xBD\xD0\xB5", "\r\n", "  \n ", "aaaa", "<s>"};
  std::uniform_int_distribution<size_t> pick(0, parts.size() - 1);
  std::string s;
  while (pieces > 0) {
    const std::string& p = parts[pick(rng)];
    if (!with_marker && p == "\xE2\x96\x81") continue;
    s += p;
    --pieces;
  }
  return s;
}

EncodeOptions no_bos() {
  EncodeOptions o;
  o.add_bos = false;
  return o;
}

TEST(TokenizerTwins, HfBpeMatchesPlainBpe) {
  const std::string path = test::shared_dir() + "/tokenizers/mistral/tokenizer.json";
  const PlainBpe plain(path);
  auto tok = load_tokenizer(path);
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    const std::string text = random_text(rng, 1 + i % 60);
    ASSERT_EQ(tok->encode(text, no_bos()), plain.encode(text)) << "text: '" << text << "'";
  }
  // Real prose: the first 2 KB of some corpus files, whole (paragraphs, blank lines and all).
  for (const char* f : {"austen_emma", "dickens_great_expectations", "world_english_bible", "wells_war_of_the_worlds"}) {
    const std::string text = read_file(test::shared_dir() + "/data/corpus/" + f + ".txt").substr(0, 2048);
    ASSERT_EQ(tok->encode(text, no_bos()), plain.encode(text)) << f;
  }
}

void expect_matches_library(const std::string& path) {
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(path).ok());
  auto tok = load_tokenizer(path);
  // Long enough for many words, with the bible's long lines and Emma's short ones.
  for (const char* f : {"austen_emma", "world_english_bible"}) {
    const std::string text = read_file(test::shared_dir() + "/data/corpus/" + f + ".txt").substr(0, 60000);
    std::vector<int> want;
    ASSERT_TRUE(sp.Encode(text, &want).ok());
    EXPECT_EQ(tok->encode(text, no_bos()), want) << path << ": " << f;
  }
  std::mt19937 rng(11);
  for (int i = 0; i < 50; ++i) {
    const std::string text = random_text(rng, 1 + i * 20, i % 2 == 0);  // with "▁" the text is encoded whole
    std::vector<int> want;
    ASSERT_TRUE(sp.Encode(text, &want).ok());
    ASSERT_EQ(tok->encode(text, no_bos()), want) << path << ": '" << text << "'";
  }
}

TEST(TokenizerTwins, SentencePieceByWordsMatchesLibraryOnWholeText) {
  expect_matches_library(test::shared_dir() + "/tokenizers/llama/tokenizer.model");
  // And a tokenizer as `mmfree tokenizer train` makes them.
  test::TempDir dir;
  std::ofstream(dir.file("slice.txt"), std::ios::binary)
      << read_file(test::shared_dir() + "/data/corpus/dickens_great_expectations.txt").substr(0, 100000);
  TokenizerTrainOptions o;
  o.inputs = {dir.file("slice.txt")};
  o.vocab_size = 600;
  o.out_dir = dir.file("tok");
  train_tokenizer(o);
  expect_matches_library(dir.file("tok") + "/tokenizer.model");
}

}  // namespace
}  // namespace mmfree
