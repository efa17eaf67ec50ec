// Token files, document splitting, data preparation, the batch loader and checkpoints.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "backend/ref/ref_backend.h"
#include "train/batch_loader.h"
#include "train/checkpoint.h"
#include "train/data_prepare.h"
#include "train/token_file.h"
#include "util/atomic_write.h"
#include "util/error.h"
#include "test_util.h"

namespace mmfree {
namespace {

// Byte-level stand-in for a real tokenizer: id = byte + 3, BOS 1, EOS 2.
class ByteTokenizer : public Tokenizer {
 public:
  ByteTokenizer() : Tokenizer(TokenizerKind::SentencePiece, "", {}, "bytes") {
    token_bytes_.assign(3, "");
    for (int b = 0; b < 256; ++b) token_bytes_.emplace_back(1, static_cast<char>(b));
    finish_setup(1, 2, true, false);
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string s;
    for (int32_t i : ids) s += token_bytes(i);
    return s;
  }
  std::string piece(int32_t id) const override { return std::string(token_bytes(id)); }

 protected:
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const override {
    for (unsigned char c : text) out.push_back(c + 3);
  }
};

std::string expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TrainTokenFile, RoundTripsUint16AndUint32) {
  test::TempDir dir;
  for (int64_t vocab : {300, 65536, 70000}) {
    std::vector<int32_t> ids = {0, 1, 299, 7, static_cast<int32_t>(vocab - 1)};
    TokenFileInfo info{vocab, 1, 2, 3};
    write_token_file(dir.file("t.bin"), ids, info);
    EXPECT_EQ(std::filesystem::file_size(dir.file("t.bin")), 48 + ids.size() * (vocab <= 65536 ? 2 : 4));
    TokenFile f(dir.file("t.bin"));
    EXPECT_EQ(f.size(), 5);
    EXPECT_EQ(f.info().vocab_size, vocab);
    EXPECT_EQ(f.info().bos_id, 1);
    EXPECT_EQ(f.info().eos_id, 2);
    EXPECT_EQ(f.info().documents, 3);
    for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(f[i], ids[static_cast<size_t>(i)]);
  }
}

TEST(TrainTokenFile, RejectsBadFilesWithClearMessages) {
  test::TempDir dir;
  const std::string p = dir.file("t.bin");
  write_token_file(p, {5, 6, 7}, {300, 1, 2, 1});
  const std::string good = read_bytes(p);
  auto corrupt = [&](const std::function<void(std::string&)>& edit) {
    std::string b = good;
    edit(b);
    write_bytes(p, b);
    return expect_error([&] { TokenFile f(p); });
  };
  EXPECT_NE(corrupt([](std::string& b) { b[0] = 'X'; }).find("bad magic"), std::string::npos);
  EXPECT_NE(corrupt([](std::string& b) { b[8] = 9; }).find("version 9 is not supported"), std::string::npos);
  EXPECT_NE(corrupt([](std::string& b) { b.resize(b.size() - 1); }).find("header says 3 tokens"), std::string::npos);
  EXPECT_NE(corrupt([](std::string& b) { b.resize(20); }).find("shorter than the 48-byte header"), std::string::npos);
  EXPECT_NE(corrupt([](std::string& b) { b[12] = 4; }).find("4 bytes per token for a vocabulary of 300"),
            std::string::npos);
  EXPECT_NE(corrupt([](std::string& b) { b[48 + 3] = static_cast<char>(0xff); }).find("outside the vocabulary"),
            std::string::npos);
  EXPECT_NE(expect_error([&] { TokenFile f(dir.file("missing.bin")); }).find("missing.bin"), std::string::npos);
}

TEST(TrainDocuments, SplitsAtBlankLinesAfterTheTargetSize) {
  const std::string text = "aaaa\nbbbb\n\ncccc\n\n\ndd\nee\n\nhh\n";
  const auto docs = split_documents(text, 8);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0], "aaaa\nbbbb\n\n");          // reached 8 bytes, cut at the blank line
  EXPECT_EQ(docs[1], "cccc\n\n\ndd\nee\n\n");  // "cccc\n\n" is only 6 bytes
  EXPECT_EQ(docs[2], "hh\n");
  std::string joined;
  for (const auto& d : docs) joined += d;
  EXPECT_EQ(joined, text);
  EXPECT_EQ(split_documents(text, 1 << 20).size(), 1u);  // small files stay whole
  EXPECT_TRUE(split_documents("\n\n  \n", 4).empty());   // whitespace only: no document
  // Without blank lines a piece is cut at the first line end past twice the target.
  const auto lines = split_documents("one line\nanother line\nthe end\n", 4);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "one line\n");
  EXPECT_EQ(lines[2], "the end\n");
}

TEST(TrainPrepare, SplitsByDocumentDeterministically) {
  test::TempDir dir;
  std::string a, b;
  for (int i = 0; i < 40; ++i) a += "paragraph " + std::to_string(i) + " of file a.\n\n";
  for (int i = 0; i < 40; ++i) b += "paragraph " + std::to_string(i) + " of file b.\n\n";
  write_bytes(dir.file("a.txt"), a);
  write_bytes(dir.file("b.txt"), b);
  ByteTokenizer tok;
  PrepareOptions o;
  o.val_fraction = 0.25;
  o.document_bytes = 100;
  o.seed = 7;
  const std::vector<std::string> inputs = {dir.file("a.txt"), dir.file("b.txt")};
  const auto s1 = prepare_dataset(tok, "bytes", inputs, dir.file("out1"), o);
  o.threads = 1;
  prepare_dataset(tok, "bytes", inputs, dir.file("out2"), o);
  const int64_t docs = s1.train_documents + s1.val_documents;
  EXPECT_EQ(s1.val_documents, std::llround(0.25 * static_cast<double>(docs)));
  // Every byte is a token, plus BOS and EOS around each document.
  EXPECT_EQ(s1.train_tokens + s1.val_tokens, static_cast<int64_t>(a.size() + b.size()) + 2 * docs);
  EXPECT_EQ(read_bytes(dir.file("out1/train.bin")), read_bytes(dir.file("out2/train.bin")));
  EXPECT_EQ(read_bytes(dir.file("out1/val.bin")), read_bytes(dir.file("out2/val.bin")));
  TokenFile val(dir.file("out1/val.bin"));
  EXPECT_EQ(val[0], 1);
  EXPECT_EQ(val[val.size() - 1], 2);
  EXPECT_EQ(val.info().documents, s1.val_documents);
  // val.txt holds exactly the text of the validation tokens (bytes here), without BOS and EOS.
  std::string val_bytes;
  for (int64_t i = 0; i < val.size(); ++i)
    if (val[i] >= 3) val_bytes += static_cast<char>(val[i] - 3);
  EXPECT_EQ(read_bytes(dir.file("out1/val.txt")), val_bytes);
  o.seed = 8;
  prepare_dataset(tok, "bytes", inputs, dir.file("out3"), o);
  EXPECT_NE(read_bytes(dir.file("out1/val.bin")), read_bytes(dir.file("out3/val.bin")));
}

TEST(TrainPrepare, CorpusAllowsTwoPercentValidation) {
  test::TempDir dir;
  std::vector<std::string> inputs;
  for (const auto& e : std::filesystem::directory_iterator(test::shared_dir() + "/data/corpus")) inputs.push_back(e.path());
  std::sort(inputs.begin(), inputs.end());
  ASSERT_EQ(inputs.size(), 9u);
  ByteTokenizer tok;
  PrepareOptions o;  // defaults: 2%, 16 KiB documents
  const auto s = prepare_dataset(tok, "bytes", inputs, dir.file("out"), o);
  const int64_t docs = s.train_documents + s.val_documents;
  std::printf("[ metric ] corpus: %lld documents, %lld for validation, %lld / %lld tokens\n", (long long)docs,
              (long long)s.val_documents, (long long)s.val_tokens, (long long)(s.train_tokens + s.val_tokens));
  EXPECT_GE(docs, 400);
  EXPECT_EQ(s.val_documents, std::llround(0.02 * static_cast<double>(docs)));
  const double share = static_cast<double>(s.val_tokens) / static_cast<double>(s.train_tokens + s.val_tokens);
  EXPECT_GT(share, 0.01);
  EXPECT_LT(share, 0.03);
}

TEST(TrainPrepare, RejectsBadInput) {
  test::TempDir dir;
  ByteTokenizer tok;
  PrepareOptions o;
  EXPECT_NE(expect_error([&] { prepare_dataset(tok, "t", {dir.file("nope.txt")}, dir.file("o"), o); })
                .find("--input: " + dir.file("nope.txt") + ": no such file"),
            std::string::npos);
  write_bytes(dir.file("one.txt"), "just one short document\n");
  EXPECT_NE(expect_error([&] { prepare_dataset(tok, "t", {dir.file("one.txt")}, dir.file("o"), o); })
                .find("only 1 document"),
            std::string::npos);
  o.val_fraction = 1.5;
  EXPECT_NE(expect_error([&] { prepare_dataset(tok, "t", {dir.file("one.txt")}, dir.file("o"), o); })
                .find("--val-fraction"),
            std::string::npos);
}

// A token file whose token i is i % vocab: a window's first token tells where it starts.
std::string counting_file(const test::TempDir& dir, int64_t n) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  write_token_file(dir.file("count.bin"), ids, {n, -1, -1, 1});
  return dir.file("count.bin");
}

TEST(TrainLoader, VisitsEveryWindowOncePerEpoch) {
  test::TempDir dir;
  TokenFile f(counting_file(dir, 1000));
  const int64_t B = 3, T = 16;
  BatchLoader loader(f, B, T, 42);
  const int64_t windows = loader.windows_per_epoch();
  EXPECT_GE(windows, (1000 - 1 - 15) / 16);
  std::set<int32_t> starts;
  std::vector<int32_t> batch;
  int64_t offset = -1;
  for (int64_t k = 0; k < windows / B; ++k) {
    loader.next(batch);
    ASSERT_EQ(batch.size(), static_cast<size_t>(B * (T + 1)));
    for (int64_t b = 0; b < B; ++b) {
      const int32_t* w = batch.data() + b * (T + 1);
      for (int64_t j = 0; j < T; ++j) ASSERT_EQ(w[j + 1], w[j] + 1);  // contiguous text
      if (offset < 0) offset = w[0] % T;
      EXPECT_EQ(w[0] % T, offset);  // one offset per epoch
      starts.insert(w[0]);
    }
  }
  EXPECT_EQ(static_cast<int64_t>(starts.size()), windows / B * B);  // no window twice
}

TEST(TrainLoader, RestoreContinuesBitExactly) {
  test::TempDir dir;
  TokenFile f(counting_file(dir, 500));
  BatchLoader a(f, 4, 8, 9), b(f, 4, 8, 9), c(f, 4, 8, 10);
  std::vector<int32_t> x, y, z;
  for (int i = 0; i < 37; ++i) a.next(x);  // beyond one epoch (61 windows)
  EXPECT_GE(a.state().epoch, 1);
  b.restore(a.state());
  bool differs_from_other_seed = false;
  for (int i = 0; i < 50; ++i) {
    a.next(x);
    b.next(y);
    c.next(z);
    ASSERT_EQ(x, y) << "batch " << i;
    differs_from_other_seed |= x != z;
  }
  EXPECT_TRUE(differs_from_other_seed);
  EXPECT_NE(expect_error([&] { c.restore(a.state()); }).find("seed"), std::string::npos);
}

TEST(TrainLoader, RejectsShortFiles) {
  test::TempDir dir;
  TokenFile f(counting_file(dir, 10));
  EXPECT_NE(expect_error([&] { BatchLoader l(f, 1, 16, 1); }).find("holds 10 tokens, fewer than --seq-len + 1 = 17"),
            std::string::npos);
}

TEST(TrainLoader, EvalBatchesAreTheFirstWindowsInOrder) {
  test::TempDir dir;
  TokenFile f(counting_file(dir, 100));
  const auto e = make_eval_batches(f, 2, 10, 3);
  ASSERT_EQ(e.batches.size(), 3u);
  EXPECT_EQ(e.batches[1][0], 20);       // third window
  EXPECT_EQ(e.batches[1][11], 30);      // fourth window, second row
  EXPECT_EQ(e.batches[2][11 + 10], 60);  // sixth window ends at token 60
  EXPECT_EQ(make_eval_batches(f, 2, 10, 100).batches.size(), 4u);  // 9 windows: 4 full batches
}

// Parameters of a made-up model; only names and shapes matter to checkpoints, and that they hold
// as many values as fake_meta's config has parameters (3460), which Checkpoint checks.
struct FakeParams {
  RefBackend be;
  ParameterArena arena{be, {{"model.embeddings.weight", {3, 4}}, {"model.norm.weight", {4}},
                            {"model.layers.0.mlp.gate_proj.weight", {3444}}}};
  std::vector<Parameter>& params() { return arena.params(); }
};

std::unique_ptr<FakeParams> fake_params(float base) {
  auto ps = std::make_unique<FakeParams>();
  for (auto& p : ps->params()) {
    for (size_t i = 0; i < p.value.size(); ++i) p.value[i] = base + 0.1f * static_cast<float>(i);
    std::fill(p.grad.begin(), p.grad.end(), 0.5f);
  }
  return ps;
}

bool same(std::span<const float> a, std::span<const float> b) { return std::ranges::equal(a, b); }

CheckpointMeta fake_meta(int64_t step) {
  CheckpointMeta m;
  m.config.vocab_size = 3;
  m.config.hidden_size = 4;
  m.config.num_layers = 1;
  m.config.intermediate_size = 256;
  m.step = step;
  m.adam_steps = step;
  m.elapsed_s = 1.5;
  m.loader = {11, 2, 5};
  m.options = {{"lr", 0.001}};
  return m;
}

TEST(TrainCheckpoint, RoundTrips) {
  test::TempDir dir;
  auto fake = fake_params(1.0f);
  auto& params = fake->params();
  AdamW opt(fake->arena, {});
  opt.step(0.01);
  save_checkpoint(dir.file("ck.safetensors"), params, opt, fake_meta(1));
  Checkpoint ck(dir.file("ck.safetensors"));
  EXPECT_EQ(ck.meta().step, 1);
  EXPECT_EQ(ck.meta().loader.epoch, 2);
  EXPECT_EQ(ck.meta().loader.cursor, 5);
  EXPECT_EQ(ck.meta().options["lr"], 0.001);
  auto fake_restored = fake_params(0.0f);
  auto& restored = fake_restored->params();
  AdamW opt2(fake_restored->arena, {});
  ck.restore(fake_meta(1).config, restored, &opt2);
  for (size_t k = 0; k < params.size(); ++k) {
    EXPECT_TRUE(same(restored[k].value, params[k].value));
    EXPECT_TRUE(same(opt2.first_moments()[k], opt.first_moments()[k]));
    EXPECT_TRUE(same(opt2.second_moments()[k], opt.second_moments()[k]));
  }
  EXPECT_EQ(opt2.steps_taken(), 1);
  ModelConfig other = fake_meta(1).config;
  other.hidden_size = 8;
  EXPECT_NE(expect_error([&] { ck.restore(other, restored, &opt2); })
                .find("the checkpoint holds another model (checkpoint vs this run: hidden_size 4 vs 8)"),
            std::string::npos);
}

TEST(TrainCheckpoint, RejectsOtherFiles) {
  test::TempDir dir;
  EXPECT_NE(expect_error([&] { Checkpoint ck(test::tiny_a() + "/model.safetensors"); })
                .find("not an mmfree training checkpoint"),
            std::string::npos);
  EXPECT_FALSE(Checkpoint::looks_like_checkpoint(test::tiny_a() + "/model.safetensors"));
  write_bytes(dir.file("junk"), "not a checkpoint at all");
  EXPECT_NE(expect_error([&] { Checkpoint ck(dir.file("junk")); }).find("junk"), std::string::npos);
}

// A stream buffer that passes bytes on and kills the process (no cleanup, like a power cut or
// SIGKILL) once it has passed `limit` of them.
class KillAfter : public std::streambuf {
 public:
  KillAfter(std::streambuf* to, int64_t limit) : to_(to), left_(limit) {}

 protected:
  int overflow(int c) override {
    if (c == EOF) return 0;
    char ch = static_cast<char>(c);
    return xsputn(&ch, 1) == 1 ? c : EOF;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const std::streamsize now = std::min<std::streamsize>(n, left_);
    to_->sputn(s, now);
    left_ -= now;
    if (left_ == 0) {
      to_->pubsync();
      ::kill(::getpid(), SIGKILL);
    }
    return n;
  }

 private:
  std::streambuf* to_;
  std::streamsize left_;
};

// A checkpoint whose values are not all finite is written, read back, refused, and removed: the
// previous one stays, byte for byte (issue 16: a diverged run once replaced it with NaN weights).
TEST(TrainCheckpoint, NonFiniteValuesNeverReplaceThePreviousOne) {
  test::TempDir dir;
  const std::string path = dir.file("checkpoint.safetensors");
  auto fake = fake_params(1.0f);
  auto& params = fake->params();
  AdamW opt(fake->arena, {});
  save_checkpoint(path, params, opt, fake_meta(1));
  const std::string before = read_bytes(path);
  auto fake_bad = fake_params(2.0f);
  auto& bad = fake_bad->params();
  bad[2].value[100] = std::numeric_limits<float>::quiet_NaN();
  try {
    save_checkpoint(path, bad, opt, fake_meta(2));
    ADD_FAILURE() << "a NaN parameter was saved";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'param.model.layers.0.mlp.gate_proj.weight' holds nan at index 100"),
              std::string::npos)
        << e.what();
  }
  opt.first_moments()[0][3] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(save_checkpoint(path, params, opt, fake_meta(2)), Error);
  EXPECT_EQ(read_bytes(path), before);
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string(), "checkpoint.safetensors");  // no temp file left
}

TEST(TrainCheckpoint, KillDuringWriteLeavesThePreviousOne) {
  test::TempDir dir;
  const std::string path = dir.file("checkpoint.safetensors");
  auto fake = fake_params(1.0f);
  auto& params = fake->params();
  AdamW opt(fake->arena, {});
  save_checkpoint(path, params, opt, fake_meta(1));
  const std::string before = read_bytes(path);
  auto fake_newer = fake_params(5.0f);
  auto& newer = fake_newer->params();
  std::ostringstream full;
  write_checkpoint(full, newer, opt, fake_meta(2));
  const int64_t half = static_cast<int64_t>(full.str().size() / 2);

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    write_file_atomically(path, [&](std::ostream& out) {
      KillAfter killer(out.rdbuf(), half);
      std::ostream dying(&killer);
      write_checkpoint(dying, newer, opt, fake_meta(2));
    });
    ::_exit(0);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // The half-written temp file is there; the checkpoint itself is the old one, whole.
  int64_t temp_files = 0, temp_bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().filename().string().starts_with("checkpoint.safetensors.tmp.")) {
      ++temp_files;
      temp_bytes = static_cast<int64_t>(e.file_size());
    }
  EXPECT_EQ(temp_files, 1);
  EXPECT_EQ(temp_bytes, half);
  EXPECT_EQ(read_bytes(path), before);
  Checkpoint ck(path);
  EXPECT_EQ(ck.meta().step, 1);
  auto fake_restored = fake_params(0.0f);
  ck.restore(fake_meta(1).config, fake_restored->params(), nullptr);
  EXPECT_TRUE(same(fake_restored->params()[0].value, params[0].value));
}

}  // namespace
}  // namespace mmfree
