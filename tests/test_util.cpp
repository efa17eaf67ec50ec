#include "test_util.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/wait.h>

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

CommandResult run_mmfree(const std::string& args) {
  TempDir tmp;
  const std::string out = tmp.file("out"), err = tmp.file("err");
  const std::string cmd = mmfree_binary() + " " + args + " >" + out + " 2>" + err;
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

std::vector<float> all_logits(const Model& m, const std::vector<int64_t>& ids, int64_t B, int64_t T) {
  StatePool st(m, B);
  Workspace ws(m, B * T);
  std::vector<float> logits(static_cast<size_t>(B * T * m.config().vocab_size));
  m.forward(ids.data(), B, T, st, ws, logits.data(), true);
  return logits;
}

LogitComparison compare_logits(const float* got, const float* want, int64_t positions, int64_t vocab) {
  std::vector<double> errs;
  LogitComparison c;
  int64_t same = 0;
  for (int64_t p = 0; p < positions; ++p) {
    const float* g = got + p * vocab;
    const float* w = want + p * vocab;
    double num = 0, den = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      num += (static_cast<double>(g[v]) - w[v]) * (static_cast<double>(g[v]) - w[v]);
      den += static_cast<double>(w[v]) * w[v];
    }
    double e = std::sqrt(num / std::max(den, 1e-30));
    errs.push_back(e);
    if (e > c.worst) {
      c.worst = e;
      c.worst_position = p;
    }
    same += (std::max_element(g, g + vocab) - g) == (std::max_element(w, w + vocab) - w);
  }
  std::vector<double> sorted = errs;
  std::sort(sorted.begin(), sorted.end());
  const size_t m = sorted.size();
  c.median = m == 0 ? 0 : (m % 2 ? sorted[m / 2] : 0.5 * (sorted[m / 2 - 1] + sorted[m / 2]));
  c.argmax_agreement = positions ? static_cast<double>(same) / static_cast<double>(positions) : 1.0;
  return c;
}

std::string describe(const LogitComparison& c) {
  std::ostringstream s;
  s << "median rel L2 " << c.median << ", worst " << c.worst << " at position " << c.worst_position
    << ", argmax agreement " << c.argmax_agreement * 100 << "%";
  return s.str();
}

}  // namespace mmfree::test
