// `mmfree data prepare` with a real tokenizer, and `mmfree plot`.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "train/loss_plot.h"
#include "train/token_file.h"
#include "test_util.h"

namespace mmfree {
namespace {

std::vector<int32_t> tokens_of(const std::string& path) {
  TokenFile f(path);
  std::vector<int32_t> ids(static_cast<size_t>(f.size()));
  f.read(0, f.size(), ids.data());
  return ids;
}

TEST(DataPrepareCli, TokenizesWholeDocumentsWithBosAndEos) {
  test::TempDir dir;
  const std::string sp_model = test::shared_dir() + "/tokenizers/llama/tokenizer.model";
  const std::vector<std::string> texts = {"It was a bright cold day in April.\n", "The clocks were striking thirteen.\n",
                                          "Über den Wolken — naïve café.\n", "Last one, with\n\ntwo paragraphs.\n"};
  std::string inputs;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string p = dir.file("in" + std::to_string(i) + ".txt");
    std::ofstream(p, std::ios::binary) << texts[i];
    inputs += " " + p;
  }
  const auto r = test::run_mmfree("data prepare --tokenizer " + sp_model + " --input" + inputs + " --out " +
                                  dir.file("data") + " --val-fraction 0.25 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("val:   1 documents"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir.file("data/tokenizer.model")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("data/meta.json")));

  // Each file is one document: [BOS] + its SentencePiece ids + [EOS]; one goes to val, three to train in order.
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(sp_model).ok());
  std::vector<std::vector<int32_t>> docs;
  for (const auto& t : texts) {
    std::vector<int> ids;
    ASSERT_TRUE(sp.Encode(t, &ids).ok());
    docs.emplace_back(1, 1);
    docs.back().insert(docs.back().end(), ids.begin(), ids.end());
    docs.back().push_back(2);
  }
  const auto train = tokens_of(dir.file("data/train.bin")), val = tokens_of(dir.file("data/val.bin"));
  int matches = 0;
  for (size_t v = 0; v < docs.size(); ++v) {
    std::vector<int32_t> rest;
    for (size_t i = 0; i < docs.size(); ++i)
      if (i != v) rest.insert(rest.end(), docs[i].begin(), docs[i].end());
    matches += val == docs[v] && train == rest;
  }
  EXPECT_EQ(matches, 1);
  EXPECT_EQ(TokenFile(dir.file("data/train.bin")).info().vocab_size, 32000);
}

TEST(DataPrepareCli, BadInput) {
  test::TempDir dir;
  const std::string sp_model = test::shared_dir() + "/tokenizers/llama/tokenizer.model";
  std::ofstream(dir.file("bad.txt"), std::ios::binary) << "valid, then \xff\xfe invalid\n";
  std::ofstream(dir.file("ok.txt"), std::ios::binary) << "fine text\n";
  auto r = test::run_mmfree("data prepare --tokenizer " + sp_model + " --input " + dir.file("ok.txt") + " " +
                            dir.file("bad.txt") + " --out " + dir.file("d") + " --val-fraction 0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--input: " + dir.file("bad.txt") + ": "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("UTF-8"), std::string::npos) << r.err;
  r = test::run_mmfree("data prepare --tokenizer " + dir.file("nothing.model") + " --input " + dir.file("ok.txt") +
                       " --out " + dir.file("d"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nothing.model"), std::string::npos) << r.err;
  r = test::run_mmfree("data prepare --tokenizer " + sp_model + " --input " + dir.file("ok.txt") + " --out " +
                       dir.file("d") + " --val-fraction half");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--val-fraction"), std::string::npos) << r.err;
}

TEST(LossPlot, NiceTicks) {
  EXPECT_EQ(nice_ticks(0, 60, 8), (std::vector<double>{0, 10, 20, 30, 40, 50, 60}));
  EXPECT_EQ(nice_ticks(6.67, 10.38, 6), (std::vector<double>{7, 8, 9, 10}));
  const auto t = nice_ticks(0.0012, 0.0049, 4);  // step 0.001
  ASSERT_EQ(t.size(), 3u);
  EXPECT_NEAR(t[0], 0.002, 1e-12);
  EXPECT_NEAR(t[2], 0.004, 1e-12);
  EXPECT_EQ(nice_ticks(5, 5, 4).front(), 5);  // a flat curve still gets an axis
}

TEST(LossPlot, CliDrawsBothCurvesWithAxesAndLegend) {
  test::TempDir dir;
  std::ofstream(dir.file("log.jsonl")) << R"({"step":0,"loss":6.5,"lr":0.001}
{"step":0,"val_loss":6.4,"val_ppl":600}
{"step":1,"loss":5.5,"lr":0.001}
{"step":2,"loss":4.25,"lr":0.001}
{"step":2,"val_loss":4.5,"val_ppl":90}
)";
  const auto r = test::run_mmfree("plot --log " + dir.file("log.jsonl") + " --out " + dir.file("loss.svg"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir.file("loss.svg"));
  const std::string svg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"([^\"]*)\"")));
  const std::string points = m[1].str();
  EXPECT_EQ(std::count(points.begin(), points.end(), ','), 3);  // three train points
  size_t circles = 0;
  for (size_t p = svg.find("<circle"); p != std::string::npos; p = svg.find("<circle", p + 1)) ++circles;
  EXPECT_EQ(circles, 2u);  // two validation points
  for (const char* text : {">train loss<", ">validation loss<", ">step<", ">loss<", ">0<", ">2<", ">5<", ">6<"})
    EXPECT_NE(svg.find(text), std::string::npos) << text;
  // Step 0 sits on the left edge of the frame (x = 70), the highest loss on its top (y = 40).
  EXPECT_EQ(points.rfind("70.0,40.0 ", 0), 0u) << points;
}

TEST(LossPlot, BadLogs) {
  test::TempDir dir;
  std::ofstream(dir.file("bad.jsonl")) << "{\"step\":0,\"loss\":1}\nnot json\n";
  auto r = test::run_mmfree("plot --log " + dir.file("bad.jsonl") + " --out " + dir.file("x.svg"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir.file("bad.jsonl") + ":2: not a JSON object"), std::string::npos) << r.err;
  std::ofstream(dir.file("empty.jsonl")) << "";
  r = test::run_mmfree("plot --log " + dir.file("empty.jsonl") + " --out " + dir.file("x.svg"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no row with"), std::string::npos) << r.err;
  r = test::run_mmfree("plot --log " + dir.file("none.jsonl") + " --out " + dir.file("x.svg"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--log: cannot open " + dir.file("none.jsonl")), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mmfree
