#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "format/safetensors.h"
#include "model/model.h"

namespace mmfree::test {

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() / ("mmfree_test_" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

namespace {

// Runs `prefix mmfree args` through /bin/sh with exec, so that wait4 reports the binary's own
// peak memory and signal rather than the shell's.
CommandResult run_shell(const std::string& prefix, const std::string& args, const std::string& cwd = ".") {
  TempDir tmp;
  const std::string out = tmp.file("out"), err = tmp.file("err");
  const std::string cmd = "cd " + cwd + " && exec " + prefix + mmfree_binary() + " " + args + " >" + out + " 2>" + err;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  CommandResult r;
  if (pid < 0 || wait4(pid, &status, 0, &usage) != pid) {
    r.exit_code = -1;
    return r;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  r.max_rss_kb = usage.ru_maxrss;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

}  // namespace

CommandResult run_mmfree(const std::string& args) { return run_shell("", args); }

CommandResult run_mmfree_in(const std::string& cwd, const std::string& args) { return run_shell("", args, cwd); }

CommandResult run_mmfree_limited(const std::string& args, int time_limit_s) {
  return run_shell("timeout -s KILL " + std::to_string(time_limit_s) + " ", args);
}

std::vector<float> all_logits(const Model& m, const std::vector<int64_t>& ids, int64_t B, int64_t T) {
  StatePool st(m, B);
  Workspace ws(m, B * T);
  std::vector<float> logits(static_cast<size_t>(B * T * m.config().vocab_size));
  m.forward(ids.data(), B, T, st, ws, logits.data(), true);
  return logits;
}

GoldenBatch golden_batch(const SafetensorsFile& golden) {
  const TensorView& t = golden.get("input_ids");
  GoldenBatch g;
  g.B = t.shape[0];
  g.T = t.shape[1];
  for (int64_t id : t.to_i64()) g.ids.push_back(static_cast<int32_t>(id));
  return g;
}

double relative_l2(std::span<const float> got, std::span<const float> want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    den += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size();
  return m == 0 ? 0 : (m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]));
}

LogitComparison compare_logits(const float* got, const float* want, int64_t positions, int64_t vocab) {
  std::vector<double> errs;
  LogitComparison c;
  int64_t same = 0;
  for (int64_t p = 0; p < positions; ++p) {
    const float* g = got + p * vocab;
    const float* w = want + p * vocab;
    const double e = relative_l2({g, static_cast<size_t>(vocab)}, {w, static_cast<size_t>(vocab)});
    errs.push_back(e);
    c.over_1e4 += e > 1e-4;
    if (e > c.worst) {
      c.worst = e;
      c.worst_position = p;
    }
    same += (std::max_element(g, g + vocab) - g) == (std::max_element(w, w + vocab) - w);
  }
  c.median = median(errs);
  c.positions = positions;
  c.argmax_agreement = positions ? static_cast<double>(same) / static_cast<double>(positions) : 1.0;
  return c;
}

std::string describe(const LogitComparison& c) {
  std::ostringstream s;
  s << "median rel L2 " << c.median << ", worst " << c.worst << " at position " << c.worst_position
    << " (" << c.over_1e4 << " of " << c.positions << " positions over 1e-4), argmax agreement "
    << c.argmax_agreement * 100 << "%";
  return s.str();
}

void expect_matches_original(const LogitComparison& c) {
  EXPECT_LE(c.median, 1e-6) << describe(c);
  EXPECT_LE(c.worst, 2e-2) << describe(c);
  EXPECT_LE(c.over_1e4 * 8, c.positions) << describe(c);
  EXPECT_GE(c.argmax_agreement, 0.99) << describe(c);
}

std::vector<float> randn(int64_t count, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<int8_t> random_ternary(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-1, 1);
  std::vector<int8_t> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

}  // namespace mmfree::test
