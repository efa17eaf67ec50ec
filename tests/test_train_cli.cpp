// `mmfree train` end to end on tiny models: the fixed-batch check against the original's losses,
// bit-exact resume after Ctrl-C and after a kill, and one clear message for each kind of bad input.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "format/safetensors.h"
#include "model/model.h"
#include "train/checkpoint.h"
#include "train/token_file.h"
#include "test_util.h"

namespace mmfree {
namespace {

std::vector<nlohmann::json> read_log(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

std::vector<nlohmann::json> rows_with(const std::vector<nlohmann::json>& rows, const char* key) {
  std::vector<nlohmann::json> out;
  for (const auto& r : rows)
    if (r.contains(key)) out.push_back(r);
  return out;
}

TEST(TrainCli, FixedBatchReproducesGoldenLosses) {
  test::TempDir dir;
  const std::string golden = test::tiny_a() + "/golden.safetensors";
  const auto r = test::run_mmfree("train --init-from " + test::tiny_a() + " --batch-file " + golden +
                                  " --steps 5 --lr 3e-3 --betas 0.9,0.95 --adam-eps 1e-8 --weight-decay 0.1"
                                  " --lr-schedule constant --grad-clip 0 --log " + dir.file("log.jsonl") +
                                  " --out " + dir.file("out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const SafetensorsFile golden_file(golden);
  const TensorView& want = golden_file.get("train_losses");
  ASSERT_EQ(want.dtype, DType::F64);
  ASSERT_EQ(want.numel(), 5);
  const auto rows = rows_with(read_log(dir.file("log.jsonl")), "loss");
  ASSERT_EQ(rows.size(), 5u);
  double worst = 0;
  for (int i = 0; i < 5; ++i) {
    double w;
    std::memcpy(&w, want.data + 8 * i, 8);
    const double got = rows[static_cast<size_t>(i)]["loss"].get<double>();
    EXPECT_EQ(rows[static_cast<size_t>(i)]["step"], i);
    worst = std::max(worst, std::abs(got - w) / std::abs(w));
    std::printf("[ metric ] fixed-batch step %d: loss %.7f, golden %.7f, rel %.2e\n", i, got, w, std::abs(got - w) / w);
  }
  EXPECT_LE(worst, 1e-2);
  // The export loads in the inference engine.
  auto m = Model::load(dir.file("out/hf"));
  EXPECT_EQ(m->config().hidden_size, 128);
}

// A prepared data directory of random ids (vocabulary 512, like tiny_a), no tokenizer needed.
void make_data(const std::string& dir, int64_t train_tokens, int64_t val_tokens) {
  std::filesystem::create_directories(dir);
  std::mt19937 g(5);
  for (auto [name, n] : {std::pair{"train.bin", train_tokens}, std::pair{"val.bin", val_tokens}}) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (auto& id : ids) id = static_cast<int32_t>(g() % 512);
    write_token_file(dir + "/" + name, ids, {512, 1, 2, 1});
  }
}

std::string train_args(const test::TempDir& dir, const std::string& out) {
  return "train --config " + test::tiny_a() + "/config.json --data " + dir.file("data") +
         " --batch 2 --seq-len 16 --steps 24 --lr 2e-3 --lr-schedule paper --warmup 3 --min-lr 1e-4"
         " --grad-clip 1 --grad-accum 2 --no-decay-norms --eval-every 4 --eval-batches 2 --seed 3 --threads 1"
         " --out " + dir.file(out);
}

// Starts the binary in the background (exec: the pid is mmfree's own, for signals).
pid_t spawn_mmfree(const std::string& args, const std::string& err_file) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string cmd = "exec " + test::mmfree_binary() + " " + args + " >/dev/null 2>" + err_file;
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int64_t train_rows(const std::string& log) {
  if (!std::filesystem::exists(log)) return 0;
  int64_t n = 0;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) n += line.find("\"loss\"") != std::string::npos;
  return n;
}

// Runs the training in the background, sends `sig` once the log holds `rows` train rows, and
// returns the exit status.
int interrupt_after(const std::string& args, const std::string& log, int64_t rows, int sig, const std::string& err) {
  const pid_t pid = spawn_mmfree(args, err);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (train_rows(log) < rows && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ::kill(pid, sig);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// Everything but the timings must be equal, bit for bit.
void expect_same_run(const std::vector<nlohmann::json>& a, const std::vector<nlohmann::json>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    for (const char* key : {"step", "loss", "lr", "grad_norm", "tokens", "val_loss"})
      EXPECT_EQ(a[i].value(key, nlohmann::json()), b[i].value(key, nlohmann::json())) << "row " << i << " " << key;
}

TEST(TrainCli, ResumeIsBitExact) {
  test::TempDir dir;
  make_data(dir.file("data"), 4000, 400);
  const auto full = test::run_mmfree(train_args(dir, "full"));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const auto want = read_log(dir.file("full/train_log.jsonl"));
  ASSERT_EQ(rows_with(want, "loss").size(), 24u);
  ASSERT_EQ(rows_with(want, "val_loss").size(), 7u);  // steps 0, 4, ..., 24

  // Ctrl-C: a checkpoint at the current step, exit 130; --resume alone takes the settings back.
  const int st = interrupt_after(train_args(dir, "int"), dir.file("int/train_log.jsonl"), 3, SIGINT, dir.file("err"));
  ASSERT_TRUE(WIFEXITED(st)) << "status " << st;
  EXPECT_EQ(WEXITSTATUS(st), 130);
  const int64_t stopped_at = Checkpoint(dir.file("int/checkpoint.safetensors")).meta().step;
  std::printf("[ metric ] SIGINT: checkpoint at step %lld of 24\n", static_cast<long long>(stopped_at));
  EXPECT_GE(stopped_at, 3);
  EXPECT_LT(stopped_at, 24);
  const auto resumed = test::run_mmfree("train --resume --out " + dir.file("int"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming"), std::string::npos);
  expect_same_run(read_log(dir.file("int/train_log.jsonl")), want);

  // SIGKILL at any moment (possibly mid-checkpoint): the last checkpoint, every 5 steps, resumes.
  const int killed = interrupt_after(train_args(dir, "kill") + " --save-every 5", dir.file("kill/train_log.jsonl"), 12,
                                     SIGKILL, dir.file("err"));
  ASSERT_TRUE(WIFSIGNALED(killed));
  std::ofstream(dir.file("kill/checkpoint.safetensors.tmp.99999")) << "half a checkpoint";  // as a kill mid-write leaves
  const auto after_kill = test::run_mmfree(train_args(dir, "kill") + " --save-every 5 --resume");
  ASSERT_EQ(after_kill.exit_code, 0) << after_kill.err;
  expect_same_run(read_log(dir.file("kill/train_log.jsonl")), want);
  EXPECT_FALSE(std::filesystem::exists(dir.file("kill/checkpoint.safetensors.tmp.99999")));

  // Both exports hold the same weights as the uninterrupted run's.
  for (const char* run : {"int", "kill"}) {
    SafetensorsFile a(dir.file("full/hf/model.safetensors")), b(dir.file(std::string(run) + "/hf/model.safetensors"));
    for (const auto& [name, t] : a.tensors()) EXPECT_EQ(t.to_f32(), b.get(name).to_f32()) << run << " " << name;
  }
}

void expect_failure(const std::string& args, const std::string& message, int code = 1) {
  const auto r = test::run_mmfree(args);
  EXPECT_EQ(r.exit_code, code) << args << "\n" << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos) << args << "\nstderr: " << r.err << "\nwanted: " << message;
}

// Every --recompute level through both commands that take it (bench-train once kept its own list
// and refused one): train logs the same losses with each (the backward forms the same numbers again).
TEST(TrainCli, EveryRecomputeLevelRunsWithTheSameLosses) {
  test::TempDir dir;
  make_data(dir.file("data"), 2000, 200);
  const std::string run = "train --config " + test::tiny_a() + "/config.json --data " + dir.file("data") +
                          " --batch 2 --seq-len 16 --steps 3 --eval-every 0 --recompute ";
  std::vector<double> want;
  for (const std::string& level : recompute_names()) {
    const auto r = test::run_mmfree(run + level + " --out " + dir.file(level));
    ASSERT_EQ(r.exit_code, 0) << level << "\n" << r.err;
    std::vector<double> losses;
    for (const auto& row : rows_with(read_log(dir.file(level + "/train_log.jsonl")), "loss"))
      losses.push_back(row["loss"].get<double>());
    ASSERT_EQ(losses.size(), 3u) << level;
    if (want.empty()) want = losses;
    EXPECT_EQ(losses, want) << "--recompute " << level;
    const auto b = test::run_mmfree("bench-train --hidden 64 --layers 2 --vocab 256 --seq 16 --batch 1 --steps 1 "
                                    "--warmup 0 --skip-peak --json --recompute " + level);
    EXPECT_EQ(b.exit_code, 0) << level << "\n" << b.err;
  }
  EXPECT_EQ(want.size(), 3u);
  expect_failure("bench-train --recompute layer", "--recompute: layer not in {none,inputs,branch,block}", 2);
}

TEST(TrainCli, BadInputGetsOneClearMessage) {
  test::TempDir dir;
  make_data(dir.file("data"), 2000, 200);
  const std::string cfg = " --config " + test::tiny_a() + "/config.json";
  expect_failure("train" + cfg + " --data " + dir.file("nodata") + " --out " + dir.file("o"),
                 "--data: " + dir.file("nodata") + " is not a directory");
  std::filesystem::create_directories(dir.file("half"));
  std::filesystem::copy(dir.file("data/train.bin"), dir.file("half/train.bin"));
  expect_failure("train" + cfg + " --data " + dir.file("half") + " --out " + dir.file("o"), "has no val.bin");
  // A token file with a damaged header.
  std::filesystem::create_directories(dir.file("bad"));
  std::filesystem::copy(dir.file("data/val.bin"), dir.file("bad/val.bin"));
  std::ofstream(dir.file("bad/train.bin"), std::ios::binary) << "MMFTOKXX and then some bytes of junk here....................";
  expect_failure("train" + cfg + " --data " + dir.file("bad") + " --out " + dir.file("o"),
                 dir.file("bad/train.bin") + ": not a token file (bad magic");
  expect_failure("train --lr abc" + cfg + " --data " + dir.file("data") + " --out " + dir.file("o"), "--lr", 2);
  expect_failure("train --steps 1.5" + cfg + " --data " + dir.file("data") + " --out " + dir.file("o"), "--steps", 2);
  expect_failure("train --betas 0.9" + cfg + " --data " + dir.file("data") + " --out " + dir.file("o"),
                 "--betas: expected two numbers like 0.9,0.95, got '0.9'");
  expect_failure("train --lr-schedule linear" + cfg + " --data " + dir.file("data") + " --out " + dir.file("o"),
                 "--lr-schedule: 'linear' is not one of constant, cosine, paper");
  expect_failure("train --data " + dir.file("data") + " --out " + dir.file("o"), "exactly one of --preset, --config, --init-from");
  expect_failure("train --preset 7B --data " + dir.file("data") + " --out " + dir.file("o"), "--preset: '7B' is not one of");
  expect_failure("train --resume --data " + dir.file("data") + " --out " + dir.file("o"), "holds no checkpoint");
  expect_failure("train" + cfg + " --seq-len 5000 --data " + dir.file("data") + " --out " + dir.file("o"),
                 "train.bin: holds 2000 tokens, fewer than --seq-len + 1 = 5001");
  // A checkpoint of one config, resumed with another.
  const std::string small = " --data " + dir.file("data") + " --batch 1 --seq-len 8 --steps 1 --eval-every 0 --out " + dir.file("run");
  ASSERT_EQ(test::run_mmfree("train" + cfg + small).exit_code, 0);
  expect_failure("train" + cfg + small, "already holds a checkpoint; pass --resume");
  nlohmann::json other = nlohmann::json::parse(std::ifstream(test::tiny_a() + "/config.json"));
  other["hidden_size"] = 64;
  std::ofstream(dir.file("other.json")) << other.dump();
  expect_failure("train --resume --config " + dir.file("other.json") + small,
                 "holds another model than --config " + dir.file("other.json") + " (checkpoint vs --config " +
                     dir.file("other.json") + ": hidden_size 128 vs 64)");
  expect_failure("train --resume --batch 2 --out " + dir.file("run"), "--resume: --batch 2 differs from 1");
  // A training checkpoint as the starting point of a new run: its weights, fresh optimizer.
  const auto from_ckpt = test::run_mmfree("train --init-from " + dir.file("run/checkpoint.safetensors") + " --data " +
                                          dir.file("data") + " --batch 1 --seq-len 8 --steps 0 --eval-every 0 --out " +
                                          dir.file("run2"));
  ASSERT_EQ(from_ckpt.exit_code, 0) << from_ckpt.err;
  {
    SafetensorsFile a(dir.file("run/hf/model.safetensors")), b(dir.file("run2/hf/model.safetensors"));
    for (const auto& [name, t] : a.tensors()) EXPECT_EQ(t.to_f32(), b.get(name).to_f32()) << name;
  }
  // A batch file whose ids the model cannot embed.
  expect_failure("train --preset 370M --batch-file " + test::tiny_a() + "/model.safetensors --out " + dir.file("o2"),
                 "missing tensor 'input_ids'");
}

}  // namespace
}  // namespace mmfree
