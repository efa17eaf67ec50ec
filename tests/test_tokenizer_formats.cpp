// Tokenizer files: the tokenizer.json features one by one on small hand-made vocabularies,
// tokenizer_config.json, loading from bytes, special tokens, and every bad input's message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tokenizer/text_stream.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace mmfree {
namespace {

using json = nlohmann::json;

std::string llama_model() { return test::shared_dir() + "/tokenizers/llama/tokenizer.model"; }
std::string mistral_json() { return test::shared_dir() + "/tokenizers/mistral/tokenizer.json"; }

EncodeOptions no_bos() {
  EncodeOptions o;
  o.add_bos = false;
  return o;
}

// A tokenizer.json with no normalizer/decoder/post-processor: <unk> <s> </s>, then `pieces`.
json mini(const std::vector<std::string>& pieces, const std::vector<std::string>& merges) {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (const auto& p : pieces) vocab[p] = vocab.size();
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"unk_token", "<unk>"}}},
          {"added_tokens",
           {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
            {{"id", 1}, {"content", "<s>"}, {"special", true}},
            {{"id", 2}, {"content", "</s>"}, {"special", true}}}}};
}

std::unique_ptr<Tokenizer> from_json(const json& j) {
  return load_tokenizer_from_bytes(TokenizerKind::HuggingFace, j.dump(), {}, "mini.json");
}

// The message of the Error that f throws ("" when it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void write(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

TEST(TokenizerJson, MergeRankDecides) {
  // ids: a 3, b 4, c 5, ab 6, bc 7
  EXPECT_EQ(from_json(mini({"a", "b", "c", "ab", "bc"}, {"b c", "a b"}))->encode("abc", no_bos()), (std::vector<int32_t>{3, 7}));
  EXPECT_EQ(from_json(mini({"a", "b", "c", "ab", "bc"}, {"a b", "b c"}))->encode("abc", no_bos()), (std::vector<int32_t>{6, 5}));
  // Merges may also be written as pairs.
  json pairs = mini({"a", "b", "c", "ab", "bc"}, {});
  pairs["model"]["merges"] = json::array({json::array({"b", "c"}), json::array({"a", "b"})});
  EXPECT_EQ(from_json(pairs)->encode("abc", no_bos()), (std::vector<int32_t>{3, 7}));
}

TEST(TokenizerJson, LeftmostFirstAmongEqualRanks) {
  // a 3, aa 4: "aaa" -> aa a, and "aaaaa" -> aa aa a.
  const auto tok = from_json(mini({"a", "aa"}, {"a a"}));
  EXPECT_EQ(tok->encode("aaa", no_bos()), (std::vector<int32_t>{4, 3}));
  EXPECT_EQ(tok->encode("aaaaa", no_bos()), (std::vector<int32_t>{4, 4, 3}));
}

TEST(TokenizerJson, UnknownCharactersWithoutByteFallback) {
  json j = mini({"a", "b"}, {});
  EXPECT_EQ(from_json(j)->encode("a\xE2\x98\x83\xE2\x98\x83" "b", no_bos()), (std::vector<int32_t>{3, 0, 0, 4}));
  j["model"]["fuse_unk"] = true;
  EXPECT_EQ(from_json(j)->encode("a\xE2\x98\x83\xE2\x98\x83" "b", no_bos()), (std::vector<int32_t>{3, 0, 4}));
  j["model"].erase("unk_token");
  EXPECT_EQ(error_of([&] { from_json(j)->encode("a\xE2\x98\x83", no_bos()); }),
            "mini.json: character U+2603 is not in the vocabulary, which has no byte fallback or unk token");
}

TEST(TokenizerJson, AddedTokens) {
  json j = mini({"a", "b", "<sep>"}, {});
  j["added_tokens"].push_back({{"id", 5}, {"content", "<sep>"}, {"special", false}});
  const auto tok = from_json(j);
  // A non-special added token is always read as itself; a special one only when asked.
  EXPECT_EQ(tok->encode("a<sep>b", no_bos()), (std::vector<int32_t>{3, 5, 4}));
  EXPECT_EQ(tok->encode("a<s>", no_bos()), (std::vector<int32_t>{3, 0, 0, 0}));
  EncodeOptions special = no_bos();
  special.parse_special = true;
  EXPECT_EQ(tok->encode("a<s>", special), (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(tok->decode({3, 5, 1, 4, 2}), "a<sep>b");  // special tokens give no text
}

TEST(TokenizerJson, MistralSpecialTokensAndNormalizerPerSegment) {
  const auto tok = load_tokenizer(mistral_json());
  EncodeOptions special = no_bos();
  special.parse_special = true;
  const auto plain = tok->encode("a", no_bos()), b = tok->encode("b", no_bos());
  std::vector<int32_t> want = plain;
  want.push_back(1);
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(tok->encode("a<s>b", special), want);  // each side of <s> is normalized alone ("▁a", "▁b")
  const auto unparsed = tok->encode("a<s>b");
  EXPECT_EQ(std::count(unparsed.begin(), unparsed.end(), 1), 1);  // only the BOS
}

TEST(TokenizerSpecial, SentencePieceParsesControlTokensOnlyWhenAsked) {
  const auto tok = load_tokenizer(llama_model());
  EncodeOptions special = no_bos();
  special.parse_special = true;
  EXPECT_EQ(tok->encode("</s>", special), (std::vector<int32_t>{2}));
  EXPECT_NE(tok->encode("</s>", no_bos()), (std::vector<int32_t>{2}));
  EXPECT_EQ(tok->decode(tok->encode("</s>", no_bos())), "</s>");
}

TEST(TokenizerSpecial, EmptyTextGivesSpecialTokensAlone) {
  for (const auto& path : {llama_model(), mistral_json()}) {
    const auto tok = load_tokenizer(path);
    EXPECT_EQ(tok->encode(""), (std::vector<int32_t>{1})) << path;
    EXPECT_TRUE(tok->encode("", no_bos()).empty()) << path;
    EXPECT_EQ(tok->decode({1}), "") << path;
  }
}

TEST(TokenizerConfig, AddBosAndEosHonoured) {
  for (const auto& src : {llama_model(), mistral_json()}) {
    test::TempDir dir;
    const std::string file = dir.file(std::filesystem::path(src).filename());
    std::filesystem::copy_file(src, file);
    const auto plain = load_tokenizer(file)->encode("Hello", no_bos());
    write(dir.file("tokenizer_config.json"), R"({"add_bos_token": false, "add_eos_token": true, "eos_token": {"content": "</s>"}})");
    const auto tok = load_tokenizer(dir.path());  // the directory: finds the file
    std::vector<int32_t> want = plain;
    want.push_back(2);
    EXPECT_EQ(tok->encode("Hello"), want) << src;
    EncodeOptions none;
    none.add_eos = false;
    EXPECT_EQ(tok->encode("Hello", none), plain) << src;
    EXPECT_EQ(tok->settings().add_bos, false);

    // The same tokenizer rebuilt from what a model file would store.
    const auto again = load_tokenizer_from_bytes(tok->kind(), tok->file_bytes(), tok->settings());
    EXPECT_EQ(again->encode("Hello"), want) << src;
    EXPECT_EQ(again->vocab_size(), 32000);
  }
}

TEST(TokenizerFiles, KindAndBytesRoundTrip) {
  const auto sp = load_tokenizer(llama_model());
  const auto hf = load_tokenizer(mistral_json());
  EXPECT_EQ(sp->kind(), TokenizerKind::SentencePiece);
  EXPECT_EQ(hf->kind(), TokenizerKind::HuggingFace);
  EXPECT_EQ(sp->file_bytes().size(), std::filesystem::file_size(llama_model()));
  EXPECT_EQ(hf->file_bytes().size(), std::filesystem::file_size(mistral_json()));
  const std::string text = "Hello, y'all! \xF0\x9F\xA6\x99\n  x";
  for (const auto* tok : {sp.get(), hf.get()}) {
    const auto copy = load_tokenizer_from_bytes(tok->kind(), tok->file_bytes());
    EXPECT_EQ(copy->encode(text), tok->encode(text));
    EXPECT_EQ(copy->bos_id(), 1);
    EXPECT_EQ(copy->eos_id(), 2);
  }
}

TEST(TokenizerErrors, Messages) {
  test::TempDir dir;
  const std::string bad_json = dir.file("tokenizer.json"), bad_model = dir.file("tokenizer.model");
  write(bad_json, "{\"model\": [1, 2");
  write(bad_model, "this is not a protobuf");
  EXPECT_NE(error_of([&] { load_tokenizer(bad_json); }).find(bad_json + ": not a valid tokenizer.json: "), std::string::npos);
  EXPECT_NE(error_of([&] { load_tokenizer(bad_model); }).find(bad_model + ": not a valid SentencePiece model"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { load_tokenizer(dir.file("nope")); }), dir.file("nope") + ": no such file or directory");
  test::TempDir empty;
  EXPECT_EQ(error_of([&] { load_tokenizer(empty.path()); }),
            empty.path().string() + ": no tokenizer here (expected tokenizer.json or tokenizer.model)");

  json pre = mini({"a"}, {});
  pre["pre_tokenizer"] = {{"type", "ByteLevel"}};
  EXPECT_NE(error_of([&] { from_json(pre); }).find("mini.json: unsupported pre_tokenizer {\"type\":\"ByteLevel\"}"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { from_json(mini({"a"}, {"a zz"})); }), "mini.json: merge 0 uses 'zz', which is not in the vocabulary");

  write(dir.file("tokenizer_config.json"), "{oops");
  EXPECT_NE(error_of([&] { load_tokenizer(bad_json); }).find(dir.file("tokenizer_config.json") + ": not valid JSON"),
            std::string::npos);

  const auto tok = load_tokenizer(mistral_json());
  EXPECT_EQ(error_of([&] { tok->encode("ok \xFF"); }), "the text to tokenize is not valid UTF-8 (byte 3: 0xFF)");
  EXPECT_EQ(error_of([&] { tok->encode("\xC0\xAF"); }), "the text to tokenize is not valid UTF-8 (byte 0: 0xC0)");  // overlong
  EXPECT_EQ(error_of([&] { tok->decode({5, 32000}); }),
            "token id 32000 is outside the vocabulary [0, 32000) of " + mistral_json());
}

TEST(TextStream, HoldsSplitCharactersAndReplacesInvalidBytes) {
  for (const auto& path : {llama_model(), mistral_json()}) {
    const auto tok = load_tokenizer(path);
    const auto ids = tok->encode("\xF0\x9F\xA6\x99!", no_bos());  // "▁", four byte tokens, "!"
    ASSERT_EQ(ids.size(), 6u) << path;
    TextStream s(*tok, true);
    EXPECT_EQ(s.push(ids[0]), "");  // the prepended space, dropped at the start
    EXPECT_EQ(s.push(ids[1]), "");
    EXPECT_EQ(s.push(ids[2]), "");
    EXPECT_EQ(s.push(ids[3]), "");
    EXPECT_EQ(s.push(ids[4]), "\xF0\x9F\xA6\x99");
    EXPECT_EQ(s.push(ids[5]), "!");
    // Continuing a prompt keeps the space; a lone continuation byte and an unfinished sequence
    // become U+FFFD each.
    TextStream t(*tok, false);
    EXPECT_EQ(t.push(ids[0]), " ");
    EXPECT_EQ(t.push(ids[4]), "\xEF\xBF\xBD");
    EXPECT_EQ(t.push(ids[1]), "");
    EXPECT_EQ(t.finish(), "\xEF\xBF\xBD");
  }
}

}  // namespace
}  // namespace mmfree
