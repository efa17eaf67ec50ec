// mmfree eval: the zero-shot benchmarks of the paper's Table 1 (and LAMBADA, WikiText), scored as
// lm-evaluation-harness 0.4 scores them (docs/EVAL.md gives the conventions, task by task).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/default_model.h"
#include "cli/inputs.h"
#include "eval/evaluate.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_write.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace mmfree::cli {
namespace {

struct EvalCliOptions {
  std::string model, tokenizer, tasks, data, output;
  int64_t limit = 0;
  int jobs = 0;  // 0: see model_copies
  bool json = false, from_scratch = false;
  eval::EvalOptions eval;
  DeviceOptions device;
};

// --data left out: $MMFREE_EVAL_DATA, else the shared evaluation sets beside the source tree.
std::string data_dir(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("MMFREE_EVAL_DATA"); env != nullptr && *env != '\0') return env;
  const auto p = (std::filesystem::path(MMFREE_SOURCE_DIR) / ".." / "shared" / "data" / "eval").lexically_normal();
  check(std::filesystem::is_directory(p), "no --data given and the evaluation sets are not at " + p.string() +
                                              "; pass --data DIR or set MMFREE_EVAL_DATA");
  return p.string();
}

std::vector<std::string> split_tasks(const std::string& list) {
  if (list == "all") return eval::task_names();
  std::vector<std::string> out;
  for (size_t s = 0;;) {
    const size_t e = list.find(',', s);
    out.push_back(list.substr(s, e == std::string::npos ? std::string::npos : e - s));
    check(!out.back().empty(), "--task: empty task name in '" + list + "'");
    if (e == std::string::npos) return out;
    s = e + 1;
  }
}

// "items/s and ETA" on one rewritten stderr line, only when stderr is a terminal.
class ProgressLine {
 public:
  explicit ProgressLine(std::string task) : task_(std::move(task)), tty_(isatty(STDERR_FILENO) == 1) {}
  void operator()(size_t done, size_t total) {
    if (!tty_) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (done < total && s - last_ < 0.25) return;
    last_ = s;
    const double rate = s > 0 ? static_cast<double>(done) / s : 0;
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
    std::fprintf(stderr, "\r%-14s %zu/%zu  %.1f items/s  ETA %dm%02ds ", task_.c_str(), done, total, rate,
                 static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  std::string task_;
  bool tty_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double last_ = -1;
};

std::string format_stderr(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// --jobs: copies of the model, each scoring its share of the items on its own thread. On the cpu
// device the threads are divided among them (a copy runs whole batches on one core, with no
// barrier between its steps); default: one copy per thread there, one elsewhere.
int model_copies(const EvalCliOptions& o) {
  const bool cpu = o.device.device == "cpu";
  if (o.jobs > 0) return o.jobs;
  return cpu ? (o.device.threads > 0 ? o.device.threads : physical_core_count()) : 1;
}

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

void run(const EvalCliOptions& o) {
  const std::string dir = data_dir(o.data);
  const auto names = split_tasks(o.tasks);
  std::vector<eval::Task> tasks;
  for (const auto& n : names)
    tasks.push_back(eval::load_task(n, dir, o.limit));  // bad files fail before the model loads
  const int jobs = model_copies(o);
  DeviceOptions per_copy = o.device;
  if (o.device.device == "cpu")
    per_copy.threads = std::max(1, (o.device.threads > 0 ? o.device.threads : physical_core_count()) / jobs);
  std::vector<std::unique_ptr<Model>> models;
  for (int k = 0; k < jobs; ++k) models.push_back(Model::load(o.model, per_copy));
  const Model* model = models[0].get();
  const auto tok = load_tokenizer(o.tokenizer.empty() ? o.model : o.tokenizer);
  check(tok->vocab_size() <= model->config().vocab_size,
        "the tokenizer " + tok->name() + " has " + std::to_string(tok->vocab_size()) +
            " tokens, more than the model's vocabulary of " + std::to_string(model->config().vocab_size));
  eval::EvalOptions eo = o.eval;
  eo.share_context = !o.from_scratch;
  std::vector<std::unique_ptr<eval::Scorer>> scorers;
  std::vector<eval::Scorer*> scorer_ptrs;
  for (const auto& m : models) {
    scorers.push_back(std::make_unique<eval::Scorer>(*m, m->backend().prefill_rows()));
    scorer_ptrs.push_back(scorers.back().get());
  }
  nlohmann::json results = nlohmann::json::object();
  std::string items_out;
  if (!o.json)
    std::printf("%-14s %-16s %12s %12s %7s %9s %8s\n", "task", "metric", "value", "stderr", "items", "seconds",
                "items/s");
  for (const auto& task : tasks) {
    ProgressLine bar(task.name);
    const auto r = eval::evaluate(task, *tok, scorer_ptrs, eo, std::ref(bar));
    const double rate = static_cast<double>(task.size()) / r.seconds;
    nlohmann::json j = {{"items", task.size()},
                        {"seconds", r.seconds},
                        {"items_per_second", rate},
                        {"tokens_read", r.tokens_read},
                        {"harness_file", task.harness_file}};
    for (const auto& m : r.metrics) {
      j[m.name] = number(m.value);
      j[m.name + "_stderr"] = number(m.stderr_);
      if (!o.json)
        std::printf("%-14s %-16s %12.6g %12s %7zu %9.1f %8.2f\n", task.name.c_str(), m.name.c_str(), m.value,
                    std::isfinite(m.stderr_) ? format_stderr(m.stderr_).c_str() : "N/A", task.size(), r.seconds, rate);
    }
    results[task.name] = j;
    if (!o.output.empty())
      for (size_t i = 0; i < r.items.size(); ++i) {
        nlohmann::json item = {
            {"task", task.name}, {"index", i}, {"loglikelihoods", r.items[i].lls}, {"greedy", r.items[i].greedy}};
        if (task.kind != eval::TaskKind::Rolling) item["gold"] = task.docs[i].gold;
        items_out += item.dump() + "\n";
      }
    std::fflush(stdout);
  }
  if (!o.output.empty()) write_file_atomically(o.output, [&](std::ostream& f) { f << items_out; });
  if (o.json) {
    const nlohmann::json out = {{"model", o.model},
                                {"limit", o.limit},
                                {"max_length", eo.max_length},
                                {"shared_context", eo.share_context},
                                {"results", results}};
    std::printf("%s\n", out.dump().c_str());
  }
}

void setup(CLI::App& app) {
  auto o = std::make_shared<EvalCliOptions>();
  auto* cmd = app.add_subcommand("eval", "Zero-shot benchmarks scored as lm-evaluation-harness 0.4 scores them");
  add_model_option(cmd, o->model);
  cmd->add_option("--tokenizer", o->tokenizer, "Tokenizer file or directory (default: the model's)");
  std::string names;
  for (const auto& n : eval::task_names()) names += (names.empty() ? "" : ", ") + n;
  cmd->add_option("--task", o->tasks, "Tasks, comma-separated, or 'all': " + names)->required();
  cmd->add_option("--data", o->data,
                  "Folder of the evaluation sets (default: $MMFREE_EVAL_DATA, else ../shared/data/eval)");
  cmd->add_option("--limit", o->limit, "Score only the first N items of each task")->check(CLI::PositiveNumber);
  cmd->add_option("--max-length", o->eval.max_length, "Context window in tokens (the harness's max_length)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--from-scratch", o->from_scratch,
                "Read every context + choice whole from a zero state (no state fork; for speed comparison)");
  cmd->add_option("--jobs", o->jobs,
                  "Copies of the model scoring items side by side, one thread each (default: cpu, one per --threads; "
                  "otherwise 1); the scores do not change")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--json", o->json, "Print the results as one JSON object");
  cmd->add_option("--output", o->output, "Write each item's log-likelihoods as JSON lines to FILE");
  add_device_options(cmd, o->device);
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
