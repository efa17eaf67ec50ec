// Each task's reader and prompt builder on real items of shared/data/eval, against the prompt
// format the harness's task files define (written out by hand here), WikiText against a Python
// twin of the harness's page splitting and detokenizer, and bad files against clean errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "eval/tasks.h"
#include "message_checks.h"
#include "test_util.h"
#include "util/error.h"

namespace mmfree {
namespace {

std::string data() { return test::shared_dir() + "/data/eval"; }

void expect_choice_doc(const eval::ChoiceDoc& d, const std::string& context, const std::vector<std::string>& choices,
                       int gold) {
  ASSERT_EQ(d.requests.size(), choices.size());
  for (size_t i = 0; i < choices.size(); ++i) {
    EXPECT_EQ(d.requests[i].context, context);
    EXPECT_EQ(d.requests[i].continuation, " " + choices[i]);  // target_delimiter " "
  }
  EXPECT_EQ(d.choices, choices);
  EXPECT_EQ(d.gold, gold);
}

TEST(EvalTasks, ArcQuestionAnswerFormat) {
  const auto e = eval::load_task("arc_easy", data());
  EXPECT_EQ(e.size(), 2376u);
  expect_choice_doc(
      e.docs[0],
      "Question: Which statement best explains why photosynthesis is the foundation of most food "
      "webs?\nAnswer:",
      {"Sunlight is the source of energy for nearly all ecosystems.",
       "Most ecosystems are found on land instead of in water.", "Carbon dioxide is more available than other gases.",
       "The producers in all ecosystems are plants."},
      0);
  // Item 15 keys its choices "1".."4": answerKey "2" is the second choice.
  expect_choice_doc(e.docs[14], "Question: All living and nonliving material is composed of\nAnswer:",
                    {"air", "elements", "water", "soil"}, 1);
  const auto c = eval::load_task("arc_challenge", data(), 3);
  EXPECT_EQ(c.size(), 3u);  // --limit
  EXPECT_EQ(c.docs[0].gold, 2);
  EXPECT_TRUE(c.normalized);
  EXPECT_EQ(eval::load_task("arc_challenge", data()).size(), 1172u);
}

TEST(EvalTasks, HellaswagQueryCapitalizesTheFragment) {
  const auto h = eval::load_task("hellaswag", data());
  EXPECT_EQ(h.size(), 10042u);
  // activity_label + ": " + ctx_a + " " + ctx_b.capitalize(): the file has ctx_b "he" as given.
  expect_choice_doc(h.docs[0], "Roof shingle removal: A man is sitting on a roof. He",
                    {"is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
                     "is holding a rubik's cube.", "starts pulling up roofing on a roof."},
                    3);
  EXPECT_EQ(h.docs[1].requests[0].context,
            "Clean and jerk: A lady walks to a barbell. She bends down and grabs the pole. The lady");
  // WikiHow contexts end with a sentence; nothing to capitalize.
  EXPECT_EQ(eval::hellaswag_query("Health: How to use aromatherapy. Know what oils help."),
            "Health: How to use aromatherapy. Know what oils help.");
  EXPECT_EQ(eval::hellaswag_query("Label: First part. the MAN then"), "Label: First part. The man then");
}

TEST(EvalTasks, PiqaWinograndeOpenbookqaBoolqLambada) {
  const auto p = eval::load_task("piqa", data());
  EXPECT_EQ(p.size(), 1838u);
  EXPECT_EQ(p.docs[0].requests[0].context,
            "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:");
  EXPECT_EQ(p.docs[0].gold, 0);
  // Choices are used as stored (the harness does not strip them): trailing and double spaces stay.
  expect_choice_doc(p.docs[1], "Question: dresser\nAnswer:",
                    {"replace drawer with bobby pin ", "finish, woodgrain with  bobby pin "}, 1);

  const auto w = eval::load_task("winogrande", data());
  EXPECT_EQ(w.size(), 1267u);
  EXPECT_FALSE(w.normalized);
  // Partial scoring: the option fills the blank in the context; the rest is the shared continuation.
  const auto& d = w.docs[0];
  ASSERT_EQ(d.requests.size(), 2u);
  EXPECT_EQ(d.requests[0].context, "Sarah was a much better surgeon than Maria so Sarah");
  EXPECT_EQ(d.requests[1].context, "Sarah was a much better surgeon than Maria so Maria");
  EXPECT_EQ(d.requests[0].continuation, " always got the easier cases.");
  EXPECT_EQ(d.requests[1].continuation, " always got the easier cases.");
  EXPECT_EQ(d.gold, 1);  // answer "2"

  const auto o = eval::load_task("openbookqa", data());
  EXPECT_EQ(o.size(), 500u);
  expect_choice_doc(
      o.docs[1], "There is most likely going to be fog around:", {"a marsh", "a tundra", "the plains", "a desert"}, 0);
  EXPECT_EQ(o.docs[0].gold, 1);

  const auto b = eval::load_task("boolq", data());
  EXPECT_EQ(b.size(), 3270u);
  const auto& q = b.docs[0].requests[0].context;
  EXPECT_TRUE(q.starts_with("Ethanol fuel -- All biomass goes through"));
  EXPECT_TRUE(q.ends_with(".\nQuestion: does ethanol take more energy make that produces?\nAnswer:"));
  EXPECT_EQ(b.docs[0].choices, (std::vector<std::string>{"no", "yes"}));
  EXPECT_EQ(b.docs[0].gold, 0);  // "false"

  const auto l = eval::load_task("lambada", data());
  EXPECT_EQ(l.size(), 5153u);
  EXPECT_EQ(l.kind, eval::TaskKind::Lambada);
  ASSERT_EQ(l.docs[0].requests.size(), 1u);
  EXPECT_TRUE(l.docs[0].requests[0].context.ends_with("his mouth curved in a confident grin, I don't care about"));
  EXPECT_EQ(l.docs[0].requests[0].continuation, " signs");
}

// 64-bit FNV-1a of the bytes, as hex (the twin writes the same).
std::string fnv1a64_hex(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

TEST(EvalTasks, WikitextPagesMatchAPythonTwinOfTheHarness) {
  // tests/data/wikitext_pages.tsv: words, bytes and FNV-1a hash of each detokenized page, written by
  // tests/data/wikitext_pages.py with Python's re from the harness's definitions.
  const auto t = eval::load_task("wikitext", data());
  std::ifstream f(std::string(MMFREE_SOURCE_DIR) + "/tests/data/wikitext_pages.tsv");
  ASSERT_TRUE(f.good());
  std::string line;
  size_t i = 0;
  for (; std::getline(f, line); ++i) {
    ASSERT_LT(i, t.pages.size());
    std::istringstream in(line);
    int64_t words = 0, bytes = 0;
    std::string hash;
    in >> words >> bytes >> hash;
    EXPECT_EQ(t.pages[i].words, words) << "page " << i;
    EXPECT_EQ(t.pages[i].bytes, bytes) << "page " << i;
    EXPECT_EQ(fnv1a64_hex(t.pages[i].text), hash) << "page " << i << " begins " << t.pages[i].text.substr(0, 80);
  }
  EXPECT_EQ(i, 62u);
  EXPECT_EQ(t.pages.size(), 62u);
  EXPECT_TRUE(t.pages[0].text.starts_with(" = Robert Boulter =\n\nRobert Boulter is an English film, television"));
}

// A data folder with one task's files written by the test.
struct BadData {
  test::TempDir dir;
  void write(const std::string& rel, const std::string& bytes) {
    std::filesystem::create_directories(std::filesystem::path(dir.file(rel)).parent_path());
    std::ofstream(dir.file(rel), std::ios::binary) << bytes;
  }
  std::string error(const std::string& task) {
    try {
      eval::load_task(task, dir.path().string());
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
};

TEST(EvalTasks, BadFilesGiveCleanErrors) {
  BadData b;
  EXPECT_TRUE(test::has_all(b.error("arc_easy"), {"ARC-Easy-Test.jsonl", "cannot open"}));
  b.write("arc_easy/ARC-Easy-Test.jsonl",
          "{\"question\":{\"stem\":\"q\",\"choices\":[]},\"answerKey\":\"A\"}\nnot json\n");
  EXPECT_TRUE(test::has_all(b.error("arc_easy"), {"ARC-Easy-Test.jsonl:2", "not a JSON object"}));
  b.write("arc_easy/ARC-Easy-Test.jsonl",
          "{\"question\":{\"stem\":\"q\",\"choices\":[{\"text\":\"a\",\"label\":\"A\"}]},"
          "\"answerKey\":\"B\"}\n");
  EXPECT_TRUE(test::has_all(b.error("arc_easy"), {"item 1", "answerKey 'B'"}));
  b.write("hellaswag/hellaswag_val_full.txt.bz2", "BZh9 this is not bzip2 data");
  EXPECT_TRUE(test::has_all(b.error("hellaswag"), {"hellaswag_val_full.txt.bz2", "bzip2"}));
  b.write("piqa/valid.jsonl", "{\"goal\":\"g\",\"sol1\":\"a\",\"sol2\":\"b\"}\n");
  b.write("piqa/valid-labels.lst", "0\n1\n");
  EXPECT_TRUE(test::has_all(b.error("piqa"), {"valid-labels.lst", "2 labels for 1 items"}));
  b.write("piqa/valid-labels.lst", "2\n");
  EXPECT_TRUE(test::has_all(b.error("piqa"), {"valid-labels.lst:1", "unexpected label '2'"}));
  b.write("winogrande/dev.jsonl", "{\"sentence\":\"no blank\",\"option1\":\"a\",\"option2\":\"b\"}\n");
  b.write("winogrande/dev-labels.lst", "1\n");
  EXPECT_TRUE(test::has_all(b.error("winogrande"), {"dev.jsonl item 1", "no blank"}));
  b.write("openbookqa/test.tsv", "ID\tQuestion Stem\tChoices\tComplete Question\tAnswer Key\n1\tq\t(A) x (B) y\tB\n");
  EXPECT_TRUE(test::has_all(b.error("openbookqa"), {"test.tsv:2", "4 tab-separated columns, not 5"}));
  b.write("boolq/val.jsonl", "{\"question\":\"q\",\"passage\":\"p\",\"label\":\"maybe\"}\n");
  EXPECT_TRUE(test::has_all(b.error("boolq"), {"val.jsonl item 1", "true/false"}));
  b.write("lambada/lambada_test.jsonl", "{\"text\": 5}\n");
  EXPECT_TRUE(test::has_all(b.error("lambada"), {"lambada_test.jsonl item 1", "\"text\""}));
  b.write("lambada/lambada_test.jsonl", "{\"text\": \"bad \xff byte\"}\n");
  EXPECT_TRUE(test::has_all(b.error("lambada"), {"lambada_test.jsonl", "UTF-8"}));
  EXPECT_TRUE(test::has_all(b.error("mmlu"), {"unknown task 'mmlu'", "arc_easy"}));
}

}  // namespace
}  // namespace mmfree
