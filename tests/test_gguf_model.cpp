// Converted model files: the same logits as the Hugging Face directory they came from (and as the
// golden outputs of the original implementation), TQ2_0/TQ1_0 blocks, the error lower-precision
// embeddings add, random presets, and one clear message for each kind of bad model file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "format/float_codec.h"
#include "format/model_gguf.h"
#include "kernels/ternary_ref.h"
#include "message_checks.h"
#include "model/convert_hf.h"
#include "model/model.h"
#include "model/random_model.h"
#include "model/tensor_names.h"
#include "test_util.h"
#include "util/error.h"
#include "util/half.h"

namespace mmfree {
namespace {

using test::has_all;

using test::read_file;

std::string load_error(const std::string& path) {
  try {
    Model::load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A Hugging Face checkpoint of random latent weights with d = 256, so that every BitLinear row is
// whole 256-weight blocks and the TQ formats are used throughout.
ModelConfig small_config() {
  ModelConfig c;
  c.vocab_size = 300;
  c.hidden_size = 256;
  c.num_layers = 2;
  c.intermediate_size = ModelConfig::default_intermediate(256);
  return c;
}

void write_random_hf(const std::string& dir, const ModelConfig& c, DType dtype, uint32_t seed) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/config.json") << c.to_json().dump(2);
  std::mt19937 g(seed);
  SafetensorsWriter w;
  for (const auto& spec : expected_tensors(c)) {
    int64_t n = 1;
    for (auto d : spec.shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    std::normal_distribution<float> weights(0.0f, 0.02f), around_one(1.0f, 0.2f), unit(0.0f, 1.0f);
    for (auto& x : v) x = spec.kind == TensorKind::Norm ? around_one(g) : spec.kind == TensorKind::Ternary ? weights(g) : unit(g);
    if (dtype == DType::F32) {
      w.add_f32(spec.name, spec.shape, v);
    } else {
      std::vector<uint16_t> h(v.size());
      for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_bf16(v[i]);
      w.add(spec.name, DType::BF16, spec.shape, h.data(), h.size() * 2);
    }
  }
  w.write(dir + "/model.safetensors");
}

int64_t ternary_params(const ModelConfig& c) {
  int64_t n = 0;
  for (const auto& s : expected_tensors(c))
    if (s.kind == TensorKind::Ternary) n += s.shape[0] * s.shape[1];
  return n;
}

// tiny_a, converted once by the CLI with the default options (embeddings in its own type, F32).
class TinyAFile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test::TempDir>();
    gguf_ = dir_->file("tiny_a.gguf");
    const auto r = test::run_mmfree("convert --model " + test::tiny_a() + " --out " + gguf_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(has_all(r.out, {"wrote", "i8+tq2_0_r8", "embeddings f32"}));
    golden_ = std::make_unique<SafetensorsFile>(test::tiny_a() + "/golden.safetensors");
    hf_ = Model::load(test::tiny_a());
    file_ = Model::load(gguf_);
  }
  static void TearDownTestSuite() {
    file_.reset();
    hf_.reset();
    golden_.reset();
    dir_.reset();
  }
  static std::vector<float> logits_of(const Model& m) {
    const auto& shape = golden_->get("input_ids").shape;
    return test::all_logits(m, golden_->get("input_ids").to_i64(), shape[0], shape[1]);
  }
  static int64_t positions() { return golden_->get("input_ids").numel(); }

  static std::unique_ptr<test::TempDir> dir_;
  static std::string gguf_;
  static std::unique_ptr<SafetensorsFile> golden_;
  static std::unique_ptr<Model> hf_, file_;
};
std::unique_ptr<test::TempDir> TinyAFile::dir_;
std::string TinyAFile::gguf_;
std::unique_ptr<SafetensorsFile> TinyAFile::golden_;
std::unique_ptr<Model> TinyAFile::hf_, TinyAFile::file_;

TEST_F(TinyAFile, GivesTheLogitsOfTheDirectoryAndOfTheGoldenFile) {
  const int64_t V = hf_->config().vocab_size;
  const auto from_dir = logits_of(*hf_), from_file = logits_of(*file_);
  const auto golden = golden_->get("logits").to_f32();
  auto c = test::compare_logits(from_file.data(), from_dir.data(), positions(), V);
  std::printf("[ metric ] .gguf vs HF directory: %s\n", test::describe(c).c_str());
  // The same ternary weights and scales, the same arithmetic: measured 0 at every position.
  EXPECT_LE(c.worst, 1e-6) << test::describe(c);
  for (const auto* logits : {&from_file, &from_dir}) {
    auto g = test::compare_logits(logits->data(), golden.data(), positions(), V);
    std::printf("[ metric ] %s vs golden: %s\n", logits == &from_file ? ".gguf" : "HF dir", test::describe(g).c_str());
    test::expect_matches_original(g);
  }
}

TEST_F(TinyAFile, GreedyDecodingFromTheFileMatchesGolden) {
  const auto prompt = golden_->get("prompt_ids").to_i64();
  const auto want = golden_->get("greedy_ids").to_i64();
  const int64_t V = file_->config().vocab_size;
  StatePool st(*file_, 1);
  Workspace ws(*file_, static_cast<int64_t>(prompt.size()));
  std::vector<float> logits(static_cast<size_t>(V));
  file_->forward(prompt.data(), 1, static_cast<int64_t>(prompt.size()), st, ws, logits.data(), false);
  std::vector<int64_t> got;
  for (size_t i = 0; i < want.size(); ++i) {
    int64_t next = std::max_element(logits.begin(), logits.end()) - logits.begin();
    got.push_back(next);
    file_->forward(&next, 1, 1, st, ws, logits.data(), false);
  }
  EXPECT_EQ(got, want);
}

TEST_F(TinyAFile, StoresTernaryBlocksWithTheExactScales) {
  const ModelGguf m(gguf_);
  const HfCheckpoint ck(test::tiny_a());
  EXPECT_EQ(m.file().get_string("general.architecture"), "hgrn_bit");
  EXPECT_EQ(m.file().get_string("general.name"), "tiny_a");
  EXPECT_EQ(m.file().alignment(), 64u);
  EXPECT_EQ(m.file().get_string("mmfree.ternary_layout"), "tq2_0_r8");
  EXPECT_EQ(m.config().to_json(), ck.config().to_json());
  for (const auto& spec : expected_tensors(ck.config())) {
    if (spec.kind != TensorKind::Ternary) continue;
    const PackedTernary p = m.ternary(spec.name);
    // d = 128 rows are not whole 256-weight blocks: I8; down_proj's rows of I = 512 are: TQ2_0_R8.
    EXPECT_EQ(p.weight.format, spec.shape[1] % 256 == 0 ? TernaryFormat::TQ2_0_R8 : TernaryFormat::I8) << spec.name;
    const auto latent = ck.tensor(spec.name).to_f32();
    std::vector<int8_t> want(latent.size()), got(latent.size());
    const float s_w = ternarize_ref(latent.data(), static_cast<int64_t>(latent.size()), want.data());
    EXPECT_EQ(p.scale, s_w) << spec.name;  // bit-exact, not rounded
    ASSERT_NO_THROW(validate_ternary(p.weight, spec.name));
    unpack_ternary(p.weight, got.data());
    EXPECT_EQ(got, want) << spec.name;
    if (p.weight.format == TernaryFormat::TQ2_0_R8)  // every block's d after all the code bytes
      for (int64_t b = 0; b < p.weight.rows * p.weight.cols / 256; ++b) {
        uint16_t d;
        std::memcpy(&d, p.weight.data + p.weight.rows * p.weight.cols / 4 + 2 * b, 2);
        ASSERT_EQ(d, f32_to_f16(1.0f / s_w)) << spec.name << " block " << b;
      }
  }
}

TEST_F(TinyAFile, CommandsTakeTheFileAsModel) {
  const std::string in = test::tiny_a() + "/golden.safetensors";
  auto a = test::run_mmfree("logits --model " + gguf_ + " --input " + in + " --output " + dir_->file("a.st"));
  auto b = test::run_mmfree("logits --model " + test::tiny_a() + " --input " + in + " --output " + dir_->file("b.st"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(read_file(dir_->file("a.st")), read_file(dir_->file("b.st")));

  auto g = test::run_mmfree("generate --model " + gguf_ + " --prompt-ids '1 2 3' -n 5 --json");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(nlohmann::json::parse(g.out)["ids"].size(), 5u);

  auto info = test::run_mmfree("info --json --model " + gguf_);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["format"], "gguf");
  EXPECT_EQ(j["checkpoint_bytes"], std::filesystem::file_size(gguf_));
  EXPECT_EQ(j["ternary_storage"]["types"], "i8+tq2_0_r8");
  EXPECT_EQ(j["embedding_type"], "f32");
  EXPECT_EQ(j["parameters"]["ternary_weights"], ternary_params(hf_->config()));
}

TEST_F(TinyAFile, BenchReportsTheKeysItPromises) {
  auto r = test::run_mmfree("bench --model " + gguf_ + " -p 8 -n 4 -r 2 --threads 2 --bandwidth-mib 32 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"prefill_tok_s", "decode_tok_s", "weight_bytes_per_token", "bandwidth_gbs", "peak_rss_bytes"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_GT(j[key].get<double>(), 0) << key;
  }
  // tiny_a's weights (about 0.2 MB) fit in any last-level cache: no roofline share, which would
  // read as a slow kernel; the text says why instead of a percentage.
  const int64_t cache = j.at("last_level_cache_bytes");
  EXPECT_EQ(j.at("weights_fit_in_cache"), cache >= j.at("weight_bytes_per_token").get<int64_t>());
  if (cache >= (1 << 20)) {
    EXPECT_TRUE(j.at("roofline_fraction").is_null()) << j.dump();
    const auto text = test::run_mmfree("bench --model " + gguf_ + " -p 8 -n 4 -r 1 --threads 2 --bandwidth-mib 32");
    EXPECT_NE(text.out.find("the memory roofline does not apply"), std::string::npos) << text.out;
    EXPECT_EQ(text.out.find("% of the roofline"), std::string::npos) << text.out;
  }
  // A token reads every packed ternary weight (TQ2_0_R8: 64 code bytes per 256 weights, its d values
  // are not read; rows that are not whole blocks: I8, one byte each), every norm and lower bound,
  // and one embedding row.
  const ModelConfig& c = hf_->config();
  int64_t packed = 0;
  for (const auto& spec : expected_tensors(c))
    if (spec.kind == TensorKind::Ternary)
      packed += spec.shape[0] * (spec.shape[1] % 256 == 0 ? spec.shape[1] / 256 * 64 : spec.shape[1]);
  // Per layer: 4 projection norms, g_norm, gate norm, attn and mlp norms (d each), down norm (I);
  // lower bounds from layer 1 on; the LM head's norm and the final norm.
  const int64_t d = c.hidden_size, floats = c.num_layers * (8 * d + c.intermediate_size) + (c.num_layers - 1) * d + 2 * d;
  EXPECT_EQ(j["weight_bytes_per_token"], packed + 4 * floats + 4 * c.hidden_size);
}

// The largest error a type's rounding allows for x, in a Q8_0 block whose largest |value| is amax.
double rounding_bound(GgmlType t, float x, float amax) {
  switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return std::ldexp(std::fabs(x), -11) + std::ldexp(1.0, -25);
    case GgmlType::BF16: return std::ldexp(std::fabs(x), -8);
    default: return amax / 127 * (0.5 + 127 * std::ldexp(1.0, -11)) * (1 + 1e-6);  // half a step, d in f16
  }
}

TEST_F(TinyAFile, LowerPrecisionEmbeddingsRoundOnlyAsTheirTypeDoes) {
  const HfCheckpoint ck(test::tiny_a());
  const auto exact = ck.tensor("model.embeddings.weight").to_f32();
  const int64_t V = hf_->config().vocab_size;
  const auto reference = logits_of(*hf_);
  for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0}) {
    const std::string name = ggml_type_traits(type).name;
    const std::string path = dir_->file("emb_" + name + ".gguf");
    convert_hf_to_gguf(ck, path, ModelFileOptions{TernaryFormat::TQ2_0, type, "tiny_a", {}});
    const ModelGguf m(path);
    ASSERT_EQ(m.embeddings().type(), type);
    std::vector<float> got(exact.size());
    decode_floats(type, m.embeddings().data, static_cast<int64_t>(got.size()), got.data());
    for (size_t b = 0; b < exact.size(); b += 32) {
      float amax = 0;
      for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(exact[i]));
      for (size_t i = b; i < b + 32; ++i)
        ASSERT_LE(std::fabs(got[i] - exact[i]), rounding_bound(type, exact[i], amax)) << name << " value " << i;
    }
    // What that rounding does to the logits. tiny_a is very sensitive to any change of its
    // embeddings: relative noise of 1e-5 on them already moves the median position by ~1.6%,
    // through activation codes that cross a rounding boundary of the int8 quantiser. So the bound
    // here only catches gross mistakes; the printed figure is the one to report.
    const auto file_model = Model::load(path);
    auto c = test::compare_logits(logits_of(*file_model).data(), reference.data(), positions(), V);
    std::printf("[ metric ] %s embeddings vs the F32 checkpoint: %s\n", name.c_str(), test::describe(c).c_str());
    EXPECT_LE(c.median, type == GgmlType::F32 ? 0.0 : 0.1) << name;
    EXPECT_GE(c.argmax_agreement, type == GgmlType::F32 ? 1.0 : 0.85) << name;
  }
}

TEST(GgufModelFile, Tq2AndTq1FilesGiveTheDirectorysLogits) {
  test::TempDir dir;
  const ModelConfig c = small_config();
  write_random_hf(dir.file("hf"), c, DType::BF16, 5);
  const auto hf = Model::load(dir.file("hf"));
  std::mt19937 g(6);
  std::vector<int64_t> ids(2 * 24);
  for (auto& id : ids) id = static_cast<int64_t>(g() % static_cast<uint32_t>(c.vocab_size));
  const auto reference = test::all_logits(*hf, ids, 2, 24);
  for (const char* weights : {"tq2_0_r8", "tq2_0", "tq1_0"}) {
    const std::string out = dir.file(std::string(weights) + ".gguf");
    auto r = test::run_mmfree("convert --model " + dir.file("hf") + " --out " + out + " --weights " + weights);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const ModelGguf m(out);
    int64_t bytes = 0;
    for (const auto& spec : expected_tensors(c))
      if (spec.kind == TensorKind::Ternary) {
        // TQ2_0_R8 is stored as ggml's TQ2_0 type (same size), marked by the file's metadata.
        EXPECT_EQ(ggml_type_name(m.file().tensor(spec.name).type_id), std::string(weights).substr(0, 5)) << spec.name;
        EXPECT_EQ(m.ternary(spec.name).weight.format, parse_format(weights)) << spec.name;
        bytes += static_cast<int64_t>(m.file().tensor(spec.name).nbytes);
      }
    const double bits = 8.0 * static_cast<double>(bytes) / static_cast<double>(ternary_params(c));
    EXPECT_DOUBLE_EQ(bits, std::string(weights) == "tq1_0" ? 1.6875 : 2.0625);
    EXPECT_EQ(m.embeddings().type(), GgmlType::BF16);  // the checkpoint's own type by default
    auto cmp = test::compare_logits(test::all_logits(*Model::load(out), ids, 2, 24).data(), reference.data(), 48, c.vocab_size);
    std::printf("[ metric ] %s file (%.4f bits/weight) vs HF directory: %s\n", weights, bits, test::describe(cmp).c_str());
    EXPECT_LE(cmp.worst, 1e-6) << test::describe(cmp);  // measured 0: the same weights, the same arithmetic
  }
}

TEST(GgufModelFile, RandomModelsAreReproducibleAndRun) {
  test::TempDir dir;
  const ModelConfig c = small_config();
  const ModelFileOptions o{TernaryFormat::TQ2_0, GgmlType::BF16, "random", {}};
  write_random_model(dir.file("a.gguf"), c, 1, o);
  write_random_model(dir.file("b.gguf"), c, 1, o);
  write_random_model(dir.file("c.gguf"), c, 2, o);
  EXPECT_EQ(read_file(dir.file("a.gguf")), read_file(dir.file("b.gguf")));
  EXPECT_NE(read_file(dir.file("a.gguf")), read_file(dir.file("c.gguf")));

  const ModelGguf m(dir.file("a.gguf"));
  const PackedTernary p = m.ternary("model.layers.1.mlp.gate_proj.weight");
  std::vector<int8_t> t(static_cast<size_t>(p.weight.rows * p.weight.cols));
  ASSERT_NO_THROW(validate_ternary(p.weight, "gate_proj"));
  unpack_ternary(p.weight, t.data());
  const double zeros = static_cast<double>(std::count(t.begin(), t.end(), 0)) / static_cast<double>(t.size());
  EXPECT_NEAR(zeros, 0.31, 0.02);  // as ternarised normal(0, 0.02) latents
  EXPECT_NEAR(p.scale, 1.0 / (0.02 * std::sqrt(2.0 / M_PI)), 1e-3);

  const auto model = Model::load(dir.file("a.gguf"));
  const auto logits = test::all_logits(*model, {1, 2, 3, 4}, 1, 4);
  for (float x : logits) ASSERT_TRUE(std::isfinite(x));
}

TEST(GgufModelFile, InitWritesThePapers370M) {
  test::TempDir dir;
  auto r = test::run_mmfree("init --preset 370M --seed 3 --out " + dir.file("m.gguf"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has_all(r.out, {"tq2_0_r8, 2.0625 bits/weight", "embeddings bf16"}));
  const ModelGguf m(dir.file("m.gguf"));
  const ModelConfig& c = m.config();
  EXPECT_EQ(c.hidden_size, 1024);
  EXPECT_EQ(c.num_layers, 24);
  EXPECT_EQ(c.intermediate_size, 2816);
  EXPECT_EQ(c.vocab_size, 32000);
  // 2.0625 bits per ternary weight, 16 per embedding, 32 per norm and lower bound, then a little
  // header, the scales and the alignment padding.
  int64_t floats = 0;
  for (const auto& s : expected_tensors(c))
    if (s.kind == TensorKind::Norm || s.kind == TensorKind::LowerBounds) floats += s.shape.size() == 2 ? s.shape[0] * s.shape[1] : s.shape[0];
  const double expected = ternary_params(c) * 2.0625 / 8 + 2.0 * c.vocab_size * c.hidden_size + 4.0 * floats;
  EXPECT_NEAR(static_cast<double>(m.file().file_size()), expected, 0.001 * expected);
  EXPECT_EQ(preset_config("1.3B").intermediate_size, 5632);
  EXPECT_EQ(preset_config("2.7B").intermediate_size, 6912);
}

// Copies a model file through GgufWriter, letting `mutate` change its metadata and tensors.
struct TensorCopy {
  std::string name;
  GgmlType type;
  std::vector<uint64_t> dims;
  std::vector<uint8_t> bytes;
};
using Metadata = std::vector<std::pair<std::string, GgufValue>>;

void rewrite(const std::string& src, const std::string& dst, const std::function<void(Metadata&, std::vector<TensorCopy>&)>& mutate) {
  const GgufFile f(src);
  Metadata kv = f.metadata();
  std::vector<TensorCopy> tensors;
  for (const auto& t : f.tensors()) tensors.push_back({t.name, t.type(), t.dims, std::vector<uint8_t>(t.data, t.data + t.nbytes)});
  mutate(kv, tensors);
  GgufWriter w;
  for (auto& [k, v] : kv) w.add_metadata(k, v);
  for (const auto& t : tensors) {
    const auto* bytes = &t.bytes;
    w.add_tensor(t.name, t.type, t.dims, [bytes](std::ostream& out) {
      out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
    });
  }
  w.write(dst);
}

TensorCopy& find(std::vector<TensorCopy>& ts, const std::string& name) {
  return *std::find_if(ts.begin(), ts.end(), [&](const TensorCopy& t) { return t.name == name; });
}
void set_meta(Metadata& kv, const std::string& key, GgufValue v) {
  for (auto& [k, old] : kv)
    if (k == key) old = std::move(v);
}

// A converted file written again in another layout keeps every weight and scale: the same logits,
// bit for bit; lower-precision embeddings change only what their rounding changes.
TEST_F(TinyAFile, ReconvertedFileKeepsTheWeights) {
  const std::string tq2 = dir_->file("again_tq2.gguf"), r8 = dir_->file("again_r8.gguf");
  auto r = test::run_mmfree("convert --model " + gguf_ + " --out " + tq2 + " --weights tq2_0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has_all(r.out, {"i8+tq2_0,", "embeddings f32"})) << r.out;
  r = test::run_mmfree("convert --model " + tq2 + " --out " + r8);  // back to the default layout
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has_all(r.out, {"i8+tq2_0_r8", "embeddings f32"})) << r.out;
  const auto want = logits_of(*file_);
  EXPECT_EQ(logits_of(*Model::load(tq2)), want);
  EXPECT_EQ(logits_of(*Model::load(r8)), want);
  EXPECT_TRUE(read_file(r8) == read_file(gguf_));  // the same bytes as the first conversion (name kept)
  r = test::run_mmfree("convert --model " + r8 + " --out " + r8);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has_all(r.err, {"is the input file: write to another path"})) << r.err;
}

// The tokenizer inside a file travels with it when the file is written again.
TEST(GgufModelFile, ReconvertedFileKeepsItsTokenizer) {
  test::TempDir dir;
  auto r = test::run_mmfree("convert --model " + test::default_model() + " --out " + dir.file("m.gguf") + " --embeddings q8_0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string text = " --text 'It is a truth universally acknowledged' --json";
  const auto a = test::run_mmfree("tokenize --model " + test::default_model() + text);
  const auto b = test::run_mmfree("tokenize --model " + dir.file("m.gguf") + text);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST_F(TinyAFile, BadModelFilesNameWhatIsWrong) {
  const std::string bad = dir_->file("bad.gguf");
  auto expect = [&](const std::function<void(Metadata&, std::vector<TensorCopy>&)>& mutate,
                    std::initializer_list<std::string> parts) {
    rewrite(gguf_, bad, mutate);
    const std::string e = load_error(bad);
    EXPECT_TRUE(has_all(e, {bad})) << e;
    EXPECT_TRUE(has_all(e, parts));
  };
  const std::string norm = "model.layers.0.attn.i_proj.norm.weight";
  expect([](Metadata& kv, auto&) { set_meta(kv, "general.architecture", GgufValue::of_string("llama")); },
         {"general.architecture is 'llama', mmfree runs 'hgrn_bit' models"});
  expect([](Metadata& kv, auto&) { std::erase_if(kv, [](auto& e) { return e.first == "hgrn_bit.block_count"; }); },
         {"missing metadata key 'hgrn_bit.block_count'"});
  expect([](Metadata& kv, auto&) { set_meta(kv, "hgrn_bit.embedding_length", GgufValue::of_string("128")); },
         {"'hgrn_bit.embedding_length' has type string, expected an integer"});
  expect([](Metadata& kv, auto&) { set_meta(kv, "hgrn_bit.vocab_size", GgufValue::u32(0)); },
         {"'hgrn_bit.vocab_size' = 0 is out of range"});
  expect([](auto&, std::vector<TensorCopy>& ts) { std::erase_if(ts, [](auto& t) { return t.name == "model.norm.weight"; }); },
         {"missing tensor 'model.norm.weight'"});
  expect([](auto&, std::vector<TensorCopy>& ts) { ts.push_back({"extra", GgmlType::F32, {1}, std::vector<uint8_t>(4)}); },
         {"unexpected tensor 'extra'"});
  expect([&](auto&, std::vector<TensorCopy>& ts) { find(ts, norm).dims = {64, 2}; },
         {"tensor '" + norm + "' has shape [2, 64], the config implies [128]"});
  expect([&](auto&, std::vector<TensorCopy>& ts) {
    auto& t = find(ts, norm);
    t.type = GgmlType::F16;
    t.bytes.resize(t.bytes.size() / 2);
  }, {"tensor '" + norm + "' has type f16, expected f32"});
  expect([](auto&, std::vector<TensorCopy>& ts) {
    auto& t = find(ts, "model.embeddings.weight");
    t.type = GgmlType::I8;
    t.bytes.resize(t.bytes.size() / 4);
  }, {"tensor 'model.embeddings.weight' has type i8, expected f32, f16, bf16 or q8_0"});
  expect([](auto&, std::vector<TensorCopy>& ts) {
    auto& t = find(ts, "lm_head.weight");
    t.type = GgmlType::F32;
    t.bytes.resize(t.bytes.size() * 4);
  }, {"tensor 'lm_head.weight' has type f32, expected tq2_0, tq1_0 or i8"});
  expect([](auto&, std::vector<TensorCopy>& ts) { std::erase_if(ts, [](auto& t) { return t.name == "lm_head.weight_scale"; }); },
         {"missing tensor 'lm_head.weight_scale'"});
  for (float s : {0.0f, -1.0f, NAN})
    expect([s](auto&, std::vector<TensorCopy>& ts) { std::memcpy(find(ts, "lm_head.weight_scale").bytes.data(), &s, 4); },
           {"tensor 'lm_head.weight_scale' holds", "must be a positive finite number"});
  expect([](auto&, std::vector<TensorCopy>& ts) { find(ts, "lm_head.weight").bytes[10] = 2; },
         {"tensor 'lm_head.weight': row 0 is not a ternary i8 row (value 2 at column 10)"});
  expect([](auto&, std::vector<TensorCopy>& ts) { find(ts, "model.layers.1.mlp.down_proj.weight").bytes[3] = 0xff; },
         {"tensor 'model.layers.1.mlp.down_proj.weight': row 0 is not a ternary tq2_0_r8 row (2-bit code 3 in block 0)"});
  expect([](Metadata& kv, auto&) { set_meta(kv, "mmfree.ternary_layout", GgufValue::of_string("tq2_0_r16")); },
         {"metadata key 'mmfree.ternary_layout' is 'tq2_0_r16', mmfree knows only 'tq2_0_r8'"});
}

TEST_F(TinyAFile, CommandsRejectForeignTruncatedAndMissingModels) {
  const std::string in = test::tiny_a() + "/golden.safetensors";
  auto logits = [&](const std::string& model) {
    return test::run_mmfree("logits --model " + model + " --input " + in + " --output " + dir_->file("o.st"));
  };
  auto r = logits(test::tiny_a() + "/model.safetensors");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has_all(r.err, {"mmfree: error:", "model.safetensors: not a GGUF file", "safetensors"}));

  const std::string full = read_file(gguf_), cut = dir_->file("cut.gguf");
  std::ofstream(cut, std::ios::binary).write(full.data(), static_cast<std::streamsize>(full.size() / 2));
  r = logits(cut);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has_all(r.err, {cut, "truncated"}));

  r = logits(dir_->file("nothing_here.gguf"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has_all(r.err, {"nothing_here.gguf: no such file or directory"}));

  std::filesystem::create_directories(dir_->file("empty_dir"));
  r = logits(dir_->file("empty_dir"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has_all(r.err, {"empty_dir: not a model", "config.json"}));

  // convert takes a directory or a .gguf model file; any other file is named as what it is not.
  std::ofstream(dir_->file("notes.txt")) << "hello";
  r = test::run_mmfree("convert --model " + dir_->file("notes.txt") + " --out " + dir_->file("x.gguf"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has_all(r.err, {"notes.txt: not a GGUF file"})) << r.err;

  r = test::run_mmfree("convert --model " + test::tiny_a() + " --out " + dir_->file("x.gguf") + " --weights tq3_0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has_all(r.err, {"--weights", "tq3_0"}));

  r = test::run_mmfree("init --preset 7B --out " + dir_->file("x.gguf"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has_all(r.err, {"--preset", "7B"}));
  EXPECT_FALSE(std::filesystem::exists(dir_->file("x.gguf")));
}

}  // namespace
}  // namespace mmfree
