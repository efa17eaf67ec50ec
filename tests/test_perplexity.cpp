// sequence_nll and `mmfree perplexity` against log-softmax of Model::forward logits computed here.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "format/safetensors.h"
#include "model/perplexity.h"
#include "train/trainable_model.h"
#include "test_util.h"

namespace mmfree {
namespace {

// -log softmax(logits)[label], straight from the definition in long double.
long double nll_of(const float* logits, int64_t V, int64_t label) {
  long double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<long double>(logits[v]));
  return std::log(sum) - logits[label];
}

// The NLL of windows [s, s + ctx) each run from a zero state (ctx >= n: the whole sequence at once).
long double reference_nll(const Model& m, const std::vector<int64_t>& ids, int64_t ctx) {
  const int64_t n = static_cast<int64_t>(ids.size()), V = m.config().vocab_size;
  long double total = 0;
  for (int64_t s = 0; s + 1 < n; s += ctx) {
    const int64_t len = std::min(ctx, n - s);
    StatePool st(m, 1);
    Workspace ws(m, len);
    std::vector<float> logits(static_cast<size_t>(len * V));
    m.forward(ids.data() + s, 1, len, st, ws, logits.data(), true);
    for (int64_t i = 0; i + 1 < len || (i + 1 == len && s + len < n); ++i)
      total += nll_of(logits.data() + i * V, V, ids[static_cast<size_t>(s + i + 1)]);
  }
  return total;
}

TEST(Perplexity, SequenceNllMatchesLogSoftmaxOfTheLogits) {
  auto m = Model::load(test::tiny_a());
  auto ids = SafetensorsFile(test::tiny_a() + "/golden.safetensors").get("input_ids").to_i64();
  ids.resize(37);  // the first row (the reference forward is slow)
  const long double whole = reference_nll(*m, ids, 1 << 20);
  for (int64_t ctx : {37, 10, 1}) {  // carried state: windows change nothing
    const SequenceNll r = sequence_nll(*m, ids, ctx, true);
    EXPECT_EQ(r.tokens, 36);
    EXPECT_NEAR(r.nll, static_cast<double>(whole), 1e-6 * static_cast<double>(whole)) << "ctx " << ctx;
  }
  const SequenceNll reset = sequence_nll(*m, ids, 10, false);
  EXPECT_EQ(reset.tokens, 36);
  const long double want = reference_nll(*m, ids, 10);
  EXPECT_NEAR(reset.nll, static_cast<double>(want), 1e-6 * static_cast<double>(want));
  EXPECT_GT(std::abs(reset.nll - static_cast<double>(whole)), 1e-3);  // a reset does change the figure
}

TEST(Perplexity, CliOnTextMatchesAnIndependentComputation) {
  test::TempDir dir;
  // A small random model over the LLaMA vocabulary, with the tokenizer beside it.
  ModelConfig c;
  c.vocab_size = 32000;
  c.hidden_size = 32;
  c.num_layers = 1;
  c.intermediate_size = 256;
  TrainableModel::random_init(c, 11).save_hf(dir.file("model"));
  const std::string sp_model = test::shared_dir() + "/tokenizers/llama/tokenizer.model";
  std::filesystem::copy_file(sp_model, dir.file("model/tokenizer.model"));
  std::string text;
  {
    std::ifstream in(test::shared_dir() + "/data/corpus/wells_war_of_the_worlds.txt");
    text.resize(600);
    in.read(text.data(), 600);
    text.resize(text.rfind('\n') + 1);  // whole lines: no UTF-8 sequence cut
  }
  std::ofstream(dir.file("text.txt"), std::ios::binary) << text;

  const auto r = test::run_mmfree("perplexity --model " + dir.file("model") + " --file " + dir.file("text.txt") +
                                  " --ctx 32 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);

  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(sp_model).ok());
  std::vector<int> pieces;
  ASSERT_TRUE(sp.Encode(text, &pieces).ok());
  std::vector<int64_t> ids = {1};  // BOS
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  auto m = Model::load(dir.file("model"));
  const long double total = reference_nll(*m, ids, 1 << 20);
  const double n = static_cast<double>(ids.size() - 1);
  EXPECT_EQ(j["tokens"], ids.size() - 1);
  EXPECT_EQ(j["bytes"], text.size());
  EXPECT_NEAR(j["nll"].get<double>(), static_cast<double>(total) / n, 1e-6);
  EXPECT_NEAR(j["ppl"].get<double>(), std::exp(static_cast<double>(total) / n), 1e-4 * j["ppl"].get<double>());
  EXPECT_NEAR(j["bits_per_byte"].get<double>(), static_cast<double>(total) / std::log(2.0) / static_cast<double>(text.size()),
              1e-6);
  std::printf("[ metric ] perplexity of a random model: %s\n", r.out.c_str());
}

TEST(Perplexity, BadInput) {
  test::TempDir dir;
  auto r = test::run_mmfree("perplexity --model " + test::tiny_a() + " --file " + dir.file("none.txt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("tokenizer"), std::string::npos) << r.err;  // tiny_a ships no tokenizer
  std::ofstream(dir.file("t.txt")) << "Some text.";
  r = test::run_mmfree("perplexity --model " + test::tiny_a() + " --tokenizer " + test::shared_dir() +
                       "/tokenizers/llama/tokenizer.model --file " + dir.file("t.txt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("32000 tokens, more than the model's vocabulary of 512"), std::string::npos) << r.err;
  r = test::run_mmfree("perplexity --model " + test::tiny_a() + " --file " + dir.file("t.txt") + " --ctx 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--ctx"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mmfree
